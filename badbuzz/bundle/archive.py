"""A bundle as one `.tar.gz` file, which an image can carry (Cloud Run mirror, offline box)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from badbuzz.bundle.manifest import Manifest


def pack(directory: Path, archive: Path) -> Path:
    """Export a bundle directory as a .tar.gz an image can carry."""
    Manifest.read(directory).verify(directory)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def unpack(archive: Path, directory: Path) -> Path:
    """Extract a bundle archive (safely: no absolute paths or links) and verify it."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(directory, filter="data")
    Manifest.read(directory).verify(directory)
    return directory
