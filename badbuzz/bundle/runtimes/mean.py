"""Bundles that average the P(positive) of member bundles (an ensemble).

The members are complete bundles in subfolders (`members/<name>/`, each with its own
manifest, runtime and normalisation); `ensemble.json` names them. The ensemble's manifest
hashes every member file, so its signature vouches for the members too; each member's own
hashes are checked again as it loads. The ensemble reads raw tweets (its manifest has no
normalisation): each member normalises them its own way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from badbuzz.bundle.manifest import Manifest, inside_bundle
from badbuzz.bundle.model import ModelBundle, RuntimeOptions, load_scorer
from badbuzz.errors import BundleError

MODEL_FILE = "ensemble.json"
MEMBERS_FOLDER = "members"


class MeanScorer:
    def __init__(self, members: Sequence[ModelBundle]) -> None:
        self.members = list(members)
        self.runtime = "mean(" + ", ".join(m.scorer.runtime for m in self.members) + ")"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.mean([member.predict_proba(texts) for member in self.members], axis=0)


def write_members_file(directory: Path, members: Sequence[str]) -> str:
    """`ensemble.json` naming the member folders (relative to the bundle), in order."""
    (directory / MODEL_FILE).write_text(json.dumps({"members": list(members)}, indent=2))
    return MODEL_FILE


def _member_names(directory: Path, manifest: Manifest) -> list[str]:
    path = inside_bundle(directory, manifest.model_file)
    try:
        names: Any = json.loads(path.read_text())["members"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise BundleError(f"{path}: unreadable ensemble file ({error})") from error
    if not isinstance(names, list) or not names:
        raise BundleError(f"{path}: an ensemble names at least one member folder")
    return names


def load(directory: Path, manifest: Manifest, options: RuntimeOptions) -> MeanScorer:
    members = []
    for name in _member_names(directory, manifest):
        folder = inside_bundle(directory, name)
        member = Manifest.read(folder)
        if member.runtime == "mean":
            raise BundleError(f"{folder}: an ensemble's member is itself an ensemble")
        member.verify(folder)
        members.append(ModelBundle(folder, member, load_scorer(folder, member, options)))
    return MeanScorer(members)
