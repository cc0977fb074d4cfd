"""A virtual environment installed the way a Dockerfile of `compose/` builds its image (the
API's by default, the console's too): from exactly the files its COPY lines name, with the
extra its EXTRA build argument names, installed as a regular (not editable) package. No
Docker engine runs here: this is the image's install, minus the base image.

The environment is cached by a hash of `pyproject.toml`, the Dockerfile and the extra, so
its dependencies are installed once; the project's own code is reinstalled (without
dependencies) from a fresh copy of the COPY'd files every time one is asked for.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "compose" / "api.Dockerfile"
CONSOLE_DOCKERFILE = REPO / "compose" / "ui.Dockerfile"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "badbuzz-test-venvs"
PIP_TIMEOUT_S = 1200


@dataclass(frozen=True)
class ImageRecipe:
    """What the Dockerfile puts in the image: files copied from the repo, and the extra."""

    dockerfile: Path
    sources: tuple[str, ...]  # paths relative to the build context (the repo root)
    default_extra: str


def read_recipe(dockerfile: Path = DOCKERFILE) -> ImageRecipe:
    parser = DockerfileParser(path=str(dockerfile))
    sources: list[str] = []
    extra = None
    installs_the_extra = False
    for instruction in parser.structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "COPY":
            *copied, _destination = [part for part in value.split() if not part.startswith("--")]
            sources += copied
        elif kind == "ARG" and value.startswith("EXTRA="):
            extra = value.split("=", 1)[1]
        elif kind == "RUN" and 'pip install --no-cache-dir ".[${EXTRA}]"' in value:
            installs_the_extra = True
    if extra is None or not installs_the_extra:
        raise ValueError(
            f'{dockerfile}: expected ARG EXTRA=... and RUN pip install ".[${{EXTRA}}]"'
        )
    return ImageRecipe(dockerfile, tuple(sources), extra)


def stage(recipe: ImageRecipe, context: Path) -> Path:
    """Copy what the image's COPY lines copy into `context`, as the image's work dir has it."""
    for source in recipe.sources:
        path = REPO / source
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(path, context / source, ignore=ignore)
        else:
            shutil.copy2(path, context / source)
    return context


def _pip(venv: Path, *args: str) -> None:
    """This interpreter's pip, installing into `venv` (which has none: in the image, pip is
    the base image's, not part of what the extra installs)."""
    python = str(venv / "bin" / "python")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python, *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"pip {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )


def serving_venv(extra: str | None = None, recipe: ImageRecipe | None = None) -> Path:
    """The venv of the serving image with `extra` (default: the Dockerfile's; several are
    comma-separated, as in the build argument), holding the current code. Built on first
    use (minutes: it downloads the dependencies), then cached."""
    recipe = recipe or read_recipe()
    extra = extra or recipe.default_extra
    digest = hashlib.sha256()
    for part in ((REPO / "pyproject.toml").read_bytes(), recipe.dockerfile.read_bytes()):
        digest.update(part)
    digest.update(f"{extra} {sys.version}".encode())
    image = recipe.dockerfile.name.removesuffix(".Dockerfile")
    venv = CACHE / f"{extra}-{image}-{digest.hexdigest()[:16]}"  # named by the extra first
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{image}-{extra}.lock").open("w") as lock, tempfile.TemporaryDirectory() as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs must not build one venv together
        context = stage(recipe, Path(tmp))
        complete = venv / ".complete"
        if complete.is_file():
            _pip(venv, "install", "--quiet", "--no-deps", "--force-reinstall", str(context))
        else:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
            _pip(venv, "install", "--quiet", f"{context}[{extra}]")
            complete.touch()
    return venv


def site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3*/site-packages")
    return found


def size_mb(path: Path) -> float:
    """Bytes of the files under `path` (not following links), in MB."""
    total = sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())
    return total / 1e6


def largest_packages(venv: Path, count: int = 8) -> list[tuple[str, float]]:
    """The biggest top-level entries of site-packages (an import package, or the shared
    libraries a wheel vendors beside it, e.g. numpy.libs), biggest first."""
    sizes = [
        (entry.name, size_mb(entry) if entry.is_dir() else entry.stat().st_size / 1e6)
        for entry in site_packages(venv).iterdir()
        if not entry.name.endswith(".dist-info")
    ]
    return sorted(sizes, key=lambda item: item[1], reverse=True)[:count]
