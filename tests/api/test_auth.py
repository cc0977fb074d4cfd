"""Production refuses to start without a real API key: a process test, since the refusal is
`badbuzz serve` exiting. What the key guards is checked in process, in test_contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import run_serve


@pytest.mark.parametrize(
    "key",
    [None, "change-me", "short-secret"],
    ids=["unset", "default", "too-short"],
)
def test_production_refuses_to_serve_without_a_real_key(
    key: str | None, tmp_path: Path, local_bundle: Path
) -> None:
    settings = {"BADBUZZ_ENVIRONMENT": "production", "BADBUZZ_MODEL_BUNDLE": str(local_bundle)}
    if key is not None:
        settings["BADBUZZ_API_KEY"] = key
    result = run_serve(tmp_path / "home", tmp_path, settings)
    assert result.returncode != 0
    assert "BADBUZZ_API_KEY" in result.stdout + result.stderr, result.stderr[-3000:]
