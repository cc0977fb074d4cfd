"""A bundle as one `.tar.gz` file, which an image can carry (Cloud Run mirror, offline box)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from badbuzz.bundle.manifest import Manifest, is_plain_relative
from badbuzz.bundle.signing import SignaturePolicy, verified_manifest
from badbuzz.errors import BundleError


def pack(directory: Path, archive: Path) -> Path:
    """Export a bundle directory (with its signature, if signed) as a .tar.gz an image can
    carry."""
    Manifest.read(directory).verify(directory)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def unpack(archive: Path, directory: Path, signatures: SignaturePolicy | None = None) -> Path:
    """Extract a bundle archive and verify it (its signature too, if `signatures` asks).

    Only plain files and folders at plain relative paths are extracted: an archive holding a
    link, a device, an absolute path or `..` is refused before anything is written."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("./")  # `tar -C bundle .` writes ./model.joblib
            if member.isdir():
                name = name.removesuffix("/")
                if name in ("", "."):
                    continue
            if not (member.isfile() or member.isdir()) or not is_plain_relative(name):
                kind = "link" if member.issym() or member.islnk() else "entry"
                raise BundleError(
                    f"{archive}: holds the {kind} {member.name!r}; a bundle archive holds plain "
                    "files at relative paths inside it only (badbuzz export writes one)"
                )
        tar.extractall(directory, filter="data")  # the same rules, from the standard library
    verified_manifest(directory, signatures)
    return directory
