"""Where the shared real data is (`../shared/data`, or BADBUZZ_SENTIMENT140): for the tests
and the benchmarks alike, which may import this module but not a conftest."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_sentiment140() -> Path:
    configured = os.environ.get("BADBUZZ_SENTIMENT140")
    return (
        Path(configured).resolve()
        if configured
        else REPO.parent / "shared" / "data" / "sentiment140"
    )
