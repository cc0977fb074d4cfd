"""The local bundle (BADBUZZ_MODEL_BUNDLE): loaded and made to score one tweet, in a child
process (`python -m badbuzz.doctor.bundle PATH CACHE_DIR [VERIFY_KEY ENVIRONMENT]`), so that
a runtime that crashes on this CPU is reported, not suffered. Its signature is checked as the
API checks it: doctor never unpickles a bundle the API would refuse."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from badbuzz.cpu import CpuInfo
from badbuzz.doctor.result import CheckResult
from badbuzz.doctor.runtimes import crash, run_child

TWEET = "I love this airline"


def check_bundle(
    path: Path | None,
    cache_dir: Path,
    cpu: CpuInfo,
    timeout_s: float,
    verify_key: Path | None = None,
    production: bool = False,
) -> CheckResult:
    """Skipped without BADBUZZ_MODEL_BUNDLE (the API follows the registry); else the bundle
    must load and score, or the API cannot serve."""
    if path is None:
        return CheckResult("bundle", "skipped", "BADBUZZ_MODEL_BUNDLE unset: the registry serves")
    redo = "set BADBUZZ_MODEL_BUNDLE to a bundle folder or .tar.gz (badbuzz export writes one)"
    if not path.exists():
        return CheckResult("bundle", "fail", f"{path}: no such file or folder", redo)
    trust = [str(verify_key or ""), "production" if production else "development"]
    outcome = run_child(["-m", __name__, str(path), str(cache_dir), *trust], timeout_s)
    if outcome.returncode is None:
        return CheckResult(
            "bundle",
            "fail",
            f"{path.name} did not load and score within {timeout_s:g} s",
            "try again with a longer --import-timeout",
        )
    died = crash(outcome.returncode, cpu)
    if died is not None:
        return CheckResult("bundle", "fail", f"{path.name} {died[0]}", died[1])
    if outcome.returncode != 0:
        return CheckResult("bundle", "fail", f"{path.name}: {outcome.last_error_line}", redo)
    scored = json.loads(outcome.stdout.strip().splitlines()[-1])
    return CheckResult(
        "bundle",
        "ok",
        f"{path.name} ({scored['family']}, {scored['runtime']}) scores {TWEET!r}: "
        f"P(positive) {scored['p_positive']:.2f}",
    )


def score_one(
    path: Path, cache_dir: Path, verify_key: Path | None = None, production: bool = False
) -> dict[str, object]:
    """Load the bundle as the API would (signature, paths, hashes) and score one tweet."""
    from badbuzz.bundle.archive import unpack
    from badbuzz.bundle.model import ModelBundle, RuntimeOptions
    from badbuzz.bundle.signing import SignaturePolicy

    signatures = SignaturePolicy.from_key_file(verify_key, required=production)
    with tempfile.TemporaryDirectory(prefix="badbuzz-doctor-") as tmp:
        directory = unpack(path, Path(tmp), signatures) if path.is_file() else path
        options = RuntimeOptions(cache_dir=cache_dir, signatures=signatures)
        bundle = ModelBundle.load(directory, options)
        [p_positive] = bundle.predict_proba([TWEET])
        return {
            "runtime": bundle.scorer.runtime,
            "family": bundle.metadata.get("model_family", "?"),
            "p_positive": float(p_positive),
        }


def main(argv: list[str]) -> int:
    from badbuzz.errors import UserError

    try:
        verify_key = Path(argv[2]) if len(argv) > 2 and argv[2] else None
        production = len(argv) > 3 and argv[3] == "production"
        scored = score_one(Path(argv[0]), Path(argv[1]), verify_key, production)
    except (UserError, OSError, ValueError) as error:  # the parent shows the last line
        sys.stderr.write(f"{error}\n")
        return 2
    sys.stdout.write(json.dumps(scored) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
