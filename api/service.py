"""The model being served, and swapping it: a new bundle replaces the current one only after
it loaded and passed a smoke test; requests in flight keep the reference they started with."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from api.resolve import (
    ModelUnavailable,
    ResolvedBundle,
    last_good,
    remember_good,
    resolve_bundle,
)
from api.schemas import ModelRef
from badbuzz.bundle.model import Classified, ModelBundle
from badbuzz.errors import BundleError
from badbuzz.settings import ApiSettings

log = logging.getLogger(__name__)

SMOKE_TEXTS = ("thank you for the upgrade, amazing crew", "worst airline ever, they lost my bag")


@dataclass(frozen=True)
class ServedModel:
    bundle: ModelBundle
    source: ResolvedBundle
    loaded_at: float = field(default_factory=time.time)

    @cached_property
    def card(self) -> dict[str, Any]:
        meta = self.bundle.metadata
        return {
            "name": self.source.name,
            "version": self.source.version,
            "embedding_type": meta.get("embedding_type", self.source.tags.get("embedding_type")),
            "model_family": meta.get("model_family", self.source.tags.get("model_family")),
        }

    @cached_property
    def ref(self) -> ModelRef:
        return ModelRef(**self.card)

    def classify(self, texts: Sequence[str]) -> Classified:
        return self.bundle.classify(texts)


def smoke_test(bundle: ModelBundle) -> None:
    p = bundle.classify(list(SMOKE_TEXTS)).p_positive  # its neutral head too, if it has one
    if p.shape != (len(SMOKE_TEXTS),) or not all(math.isfinite(x) and 0 <= x <= 1 for x in p):
        raise BundleError(f"{bundle.directory}: smoke test gave {p!r}, not probabilities")


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    version: str | None
    message: str


class ModelService:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.current: ServedModel | None = None
        self.not_ready_reason = "model not loaded yet"
        self._lock = threading.Lock()

    def reload(self) -> ReloadResult:
        """Resolve the model to serve; swap to it if it is new and healthy."""
        with self._lock:
            try:
                resolved = resolve_bundle(self.settings)
            except ModelUnavailable as error:
                if self.current is None:
                    self.not_ready_reason = str(error)
                log.error("no model to load: %s", error)
                return ReloadResult(False, self._version, str(error))
            current = self.current
            if current and current.source.directory == resolved.directory:
                self.current = ServedModel(current.bundle, resolved, current.loaded_at)
                return ReloadResult(False, resolved.version, "already serving this version")
            try:
                bundle = self._load(resolved)
            except Exception as error:  # any failure of a new model leaves the old one serving
                message = f"version {resolved.version} failed to load: {error}"
                log.error(message)
                if self.current is not None:
                    return ReloadResult(False, self._version, message)
                fallback = self._last_good_instead(resolved, message)
                if fallback is None:
                    self.not_ready_reason = message
                    return ReloadResult(False, None, message)
                resolved, bundle = fallback
            self.current = ServedModel(bundle, resolved)
            if not resolved.stale:
                remember_good(self.settings, resolved)
            log.info(
                "serving %s version %s on %s%s",
                resolved.name,
                resolved.version,
                bundle.scorer.runtime,
                f" (stale: {resolved.stale_reason})" if resolved.stale else "",
            )
            return ReloadResult(True, resolved.version, f"now serving version {resolved.version}")

    def _load(self, resolved: ResolvedBundle) -> ModelBundle:
        options = self.settings.runtime_options(self.settings.onnx_threads)
        bundle = ModelBundle.load(resolved.directory, options)
        smoke_test(bundle)
        return bundle

    def _last_good_instead(
        self, failed: ResolvedBundle, reason: str
    ) -> tuple[ResolvedBundle, ModelBundle] | None:
        """At start-up, a champion that does not load gives way to the last good cached one."""
        try:
            resolved = last_good(self.settings, reason)
        except ModelUnavailable:
            return None
        if resolved.directory == failed.directory:
            return None
        try:
            return resolved, self._load(resolved)
        except Exception as error:
            log.error("the last good cached model does not load either: %s", error)
            return None

    def current_card(self) -> dict[str, Any] | None:
        """The served model's card (the metrics' model info); None before one loads."""
        current = self.current
        return current.card if current else None

    def report_card(self) -> dict[str, Any] | None:
        """The model card alert reports show."""
        current = self.current
        if current is None:
            return None
        return {
            **current.card,
            "threshold": current.bundle.threshold,
            "runtime": current.bundle.scorer.runtime,
        }

    def served_reference(self) -> tuple[str, dict[str, Any] | None] | None:
        """The served version and its bundle's drift reference (the drift rule's)."""
        current = self.current
        if current is None:
            return None
        return current.source.version, current.bundle.manifest.drift_reference

    @property
    def _version(self) -> str | None:
        return self.current.source.version if self.current else None
