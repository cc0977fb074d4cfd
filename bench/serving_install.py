"""Size of the serving image's install, per extra: the venv `tests/install` builds from exactly
the files and the extra `compose/api.Dockerfile` uses (no pip in it: the base image has one),
with the largest packages in each. Builds the venvs it does not find in the cache (minutes).

    .venv/bin/python -m bench.serving_install
"""

from __future__ import annotations

from tests.install.serving_venv import largest_packages, serving_venv, size_mb

EXTRAS = {
    "api": "every bundle kind + the MLflow registry client (the default image)",
    "api-tflite,registry": "TFLite bundles, champion from the MLflow registry",
    "api-tflite": "TFLite bundles from a file (BADBUZZ_MODEL_BUNDLE): the N100 / offline image",
}


def main() -> None:
    for extra, what in EXTRAS.items():
        venv = serving_venv(extra)
        largest = ", ".join(f"{name} {mb:.0f}" for name, mb in largest_packages(venv, 6))
        print(f"[{extra}] {size_mb(venv):.1f} MB: {what}")
        print(f"    largest (MB): {largest}")


if __name__ == "__main__":
    main()
