"""Which brand a tweet is about: the one its sender named, else the first configured Twitter
handle it mentions (any case), else `all`. Once brands are configured, a sent brand that is
none of them counts under `all` too: a sender cannot invent brands, each of which would earn
its own baseline and alerts. The API (at /predict) and the replay both ask here, so a tweet
counts for the same brand live and in a back-test."""

from __future__ import annotations

import re
from collections.abc import Mapping

UNBRANDED = "all"  # tweets that name no configured brand


class BrandMatcher:
    def __init__(self, handles: Mapping[str, str]) -> None:
        """`handles`: lower-case `@handle` -> brand (`OpsSettings.brands`)."""
        self.handles = {handle.lower(): brand for handle, brand in handles.items()}
        # a brand sent in any case counts as the configured one
        self._brands = {brand.lower(): brand for brand in self.handles.values()}
        self._brands[UNBRANDED] = UNBRANDED
        names = sorted((re.escape(h.removeprefix("@")) for h in self.handles), key=len)
        # a whole handle: @united matches "@United!" but not "@unitedkingdom" or "x@united"
        self._pattern = (
            re.compile(rf"(?<![\w@])@({'|'.join(reversed(names))})(?!\w)", re.IGNORECASE)
            if names
            else None
        )

    def brand_of(self, text: str, sent: str | None = None) -> str:
        if sent is not None:
            known = self._brands.get(sent.lower())
            if known is None:  # configured brands only, once there are any
                return UNBRANDED if self.handles else sent
            return known
        if self._pattern is not None and (found := self._pattern.search(text)):
            return self.handles[f"@{found.group(1).lower()}"]
        return UNBRANDED

    def named(self, sent: str) -> str:
        """A brand as sent: the configured spelling when it is one in another case."""
        return self._brands.get(sent.lower(), sent)
