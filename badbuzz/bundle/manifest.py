"""The bundle's manifest: the contract between training and serving.

A bundle is a directory holding the model in its serving format plus `manifest.json`
(format version, runtime, file hashes, normalisation settings, decision threshold, label
map, runtime options, metadata, and optionally the reference the serving drift watch compares
the live scores with), and `manifest.sig` once training signed it (`badbuzz.bundle.signing`).
Every file path the manifest names must stay inside the bundle folder; the file hashes are
checked before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from badbuzz.errors import BundleError

BUNDLE_FORMAT = "badbuzz-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # training's Ed25519 signature of manifest.json's exact bytes
DEFAULT_LABELS = {"0": "negative", "1": "positive"}
DRIFT_BINS = 10  # equal-width bins of P(positive) over [0, 1]: PSI's customary ten


@dataclass(frozen=True)
class DriftReference:
    """The validation scores the serving drift watch (`ops.drift`) compares each window with:
    the share of P(positive) in each of `len(fractions)` equal-width bins over [0, 1], and the
    share predicted negative at `threshold`, out of `count` tweets."""

    fractions: list[float]
    negative_share: float
    count: int
    threshold: float

    @classmethod
    def from_scores(
        cls, p_positive: np.ndarray, threshold: float, bins: int = DRIFT_BINS
    ) -> DriftReference:
        scores = np.clip(np.asarray(p_positive, dtype=float), 0.0, 1.0)
        if scores.size == 0:
            raise ValueError("no scores to build a drift reference from")
        counts, _ = np.histogram(scores, bins=bins, range=(0.0, 1.0))
        return cls(
            [float(c) / scores.size for c in counts],
            float(np.mean(scores < threshold)),
            int(scores.size),
            float(threshold),
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DriftReference:
        return cls(
            [float(f) for f in values["fractions"]],
            float(values["negative_share"]),
            int(values["count"]),
            float(values["threshold"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fractions": self.fractions,
            "negative_share": self.negative_share,
            "count": self.count,
            "threshold": self.threshold,
        }


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
    # None: the runtime reads raw tweets (an ensemble: each member normalises its own way)
    normalization: dict[str, Any] | None
    threshold: float = 0.5
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    metadata: dict[str, Any] = field(default_factory=dict)
    # what the runtime needs beyond the model file: max length, vocabulary file, ...
    runtime_options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    # DriftReference.to_dict() of the validation scores; absent in bundles recorded before it
    drift_reference: dict[str, Any] | None = None
    # [low, high): P(positive) there is labelled neutral; chosen on a client's labelled
    # tweets with neutral ones (training's --eval-data), absent otherwise
    neutral_band: list[float] | None = None
    # the folder of the neutral head: a bundle of its own whose "positive" class is neutral
    # (P(neutral) >= its threshold: the tweet is labelled neutral, in place of the band)
    neutral_head: str | None = None
    format: str = BUNDLE_FORMAT
    format_version: int = FORMAT_VERSION

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """The manifest as it is, signed or not: for training, which writes it. Loading goes
        through `badbuzz.bundle.signing.verified_manifest`, which checks the signature first."""
        return cls.parse(read_manifest_bytes(directory), directory / MANIFEST)

    @classmethod
    def parse(cls, data: bytes, path: Path) -> Manifest:
        try:
            values = json.loads(data)
            manifest = cls(**values)
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as error:
            raise BundleError(f"{path}: unreadable manifest ({error})") from error
        if not isinstance(manifest.files, dict) or not isinstance(manifest.runtime_options, dict):
            raise BundleError(f"{path}: unreadable manifest (files and runtime_options are maps)")
        band = manifest.neutral_band
        if band is not None and not (
            len(band) == 2 and 0.0 <= float(band[0]) <= float(band[1]) <= 1.0
        ):
            raise BundleError(f"{path}: neutral_band {band!r} is not [low, high] within [0, 1]")
        if manifest.neutral_head is not None and not isinstance(manifest.neutral_head, str):
            raise BundleError(f"{path}: neutral_head {manifest.neutral_head!r} is not a folder")
        if manifest.format != BUNDLE_FORMAT or manifest.format_version > FORMAT_VERSION:
            raise BundleError(
                f"{path}: {manifest.format} v{manifest.format_version} is not a bundle this "
                f"version reads ({BUNDLE_FORMAT} up to v{FORMAT_VERSION}); upgrade badbuzz"
            )
        return manifest

    def write(self, directory: Path) -> None:
        """Hash every file and write the manifest. A signature beside it signed the previous
        bytes: it is removed, and the bundle stays unsigned until signed again."""
        own = {directory / MANIFEST, directory / SIGNATURE}
        self.files = {  # an ensemble's members are bundles in subfolders: hashed here too
            p.relative_to(directory).as_posix(): sha256_file(p)
            for p in sorted(directory.rglob("*"))
            if p.is_file() and p not in own
        }
        (directory / SIGNATURE).unlink(missing_ok=True)
        (directory / MANIFEST).write_text(json.dumps(self.__dict__, indent=2, sort_keys=True))

    def verify(self, directory: Path) -> None:
        """Every path the manifest names stays inside `directory`; every file matches its hash."""
        if self.model_file not in self.files:
            raise BundleError(f"{directory}: manifest lists no hash for {self.model_file}")
        for key, name in sorted(self.runtime_options.items()):
            # the files a runtime reads besides the model (vocabulary, tokenizer) are hashed too
            if key.endswith("_file") and name not in self.files:
                raise BundleError(f"{directory}: manifest lists no hash for {key} {name!r}")
        for name, expected in self.files.items():
            path = inside_bundle(directory, name)
            if not path.is_file():
                raise BundleError(f"{directory}: {name} is missing")
            if sha256_file(path) != expected:
                raise BundleError(f"{directory}: {name} does not match its manifest hash")


def read_manifest_bytes(directory: Path) -> bytes:
    path = directory / MANIFEST
    if not path.is_file():
        raise BundleError(f"{directory}: not a model bundle (no {MANIFEST})")
    return path.read_bytes()


def inside_bundle(directory: Path, name: object) -> Path:
    """`directory / name`, for a name the manifest gives: refused unless it is a normalised
    relative path (no `..`, not absolute) that resolves inside the folder, symlinks followed."""
    if not isinstance(name, str) or not is_plain_relative(name):
        raise BundleError(
            f"{directory}: the manifest names the file {name!r}, which is not a plain relative "
            "path inside the bundle (absolute, with '..', or not normalised): the bundle is "
            "refused. Rebuild it with badbuzz's training, which writes plain file names"
        )
    root = directory.resolve()
    path = directory / name
    if not path.resolve().is_relative_to(root):
        raise BundleError(
            f"{directory}: {name} resolves to {path.resolve()}, outside the bundle (a symlink): "
            "the bundle is refused. A bundle holds its files, not links out of its folder"
        )
    return path


def is_plain_relative(name: str) -> bool:
    """A relative POSIX path written the one normal way: no `..`, `.`, empty part, backslash
    or NUL, not absolute (also not a Windows drive path)."""
    if not name or "\\" in name or "\0" in name or ":" in name.split("/")[0]:
        return False
    pure = PurePosixPath(name)
    return (
        not pure.is_absolute()
        and str(pure) == name
        and all(part not in ("..", ".") for part in pure.parts)
    )
