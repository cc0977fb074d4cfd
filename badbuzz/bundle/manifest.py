"""The bundle's manifest: the contract between training and serving.

A bundle is a directory holding the model in its serving format plus `manifest.json`
(format version, runtime, file hashes, normalisation settings, decision threshold, label
map, runtime options, metadata). The file hashes are checked before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from badbuzz.errors import BundleError

BUNDLE_FORMAT = "badbuzz-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_LABELS = {"0": "negative", "1": "positive"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    runtime: str
    model_file: str
    normalization: dict[str, Any]
    threshold: float = 0.5
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    metadata: dict[str, Any] = field(default_factory=dict)
    # what the runtime needs beyond the model file: max length, vocabulary file, ...
    runtime_options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    format: str = BUNDLE_FORMAT
    format_version: int = FORMAT_VERSION

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise BundleError(f"{directory}: not a model bundle (no {MANIFEST})")
        try:
            values = json.loads(path.read_text())
            manifest = cls(**values)
        except (json.JSONDecodeError, TypeError) as error:
            raise BundleError(f"{path}: unreadable manifest ({error})") from error
        if manifest.format != BUNDLE_FORMAT or manifest.format_version > FORMAT_VERSION:
            raise BundleError(
                f"{path}: {manifest.format} v{manifest.format_version} is not a bundle this "
                f"version reads ({BUNDLE_FORMAT} up to v{FORMAT_VERSION}); upgrade badbuzz"
            )
        return manifest

    def write(self, directory: Path) -> None:
        self.files = {
            p.name: sha256_file(p)
            for p in sorted(directory.iterdir())
            if p.is_file() and p.name != MANIFEST
        }
        (directory / MANIFEST).write_text(json.dumps(self.__dict__, indent=2, sort_keys=True))

    def verify(self, directory: Path) -> None:
        if self.model_file not in self.files:
            raise BundleError(f"{directory}: manifest lists no hash for {self.model_file}")
        for name, expected in self.files.items():
            path = directory / name
            if not path.is_file():
                raise BundleError(f"{directory}: {name} is missing")
            if sha256_file(path) != expected:
                raise BundleError(f"{directory}: {name} does not match its manifest hash")
