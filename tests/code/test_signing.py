"""Signed bundles and manifest paths confined to the bundle: what a registry writer can no
longer make the API run. Each refusal is paired with the load that goes through without
the check, so that the test fails if the check stops refusing."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import tarfile
from collections.abc import Sequence
from pathlib import Path

import joblib
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from typer.testing import CliRunner

from badbuzz.bundle import signing
from badbuzz.bundle.archive import pack, unpack
from badbuzz.bundle.manifest import MANIFEST, SIGNATURE, Manifest, sha256_file
from badbuzz.bundle.model import ModelBundle, RuntimeOptions
from badbuzz.bundle.signing import (
    SignaturePolicy,
    create_key_pair,
    load_signing_key,
    sign_bundle,
    verified_manifest,
)
from badbuzz.errors import BundleError, SigningKeyError
from badbuzz.text import NormalizationConfig
from tests.conftest import BundleKeys
from training.export.sklearn_bundle import write_sklearn_bundle

TEXTS = ["i love this airline", "great crew thanks", "they lost my bag", "worst delay ever"] * 5
LABELS = [1, 1, 0, 0] * 5


class RunsCode:
    """Unpickling this creates `marker`: a stand-in for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    pipeline = Pipeline([("features", TfidfVectorizer()), ("clf", LogisticRegression())])
    pipeline.fit(TEXTS, LABELS)
    return write_sklearn_bundle(tmp_path / "bundle", pipeline, NormalizationConfig(), 0.5)


@pytest.fixture
def signed_dir(bundle_dir: Path, bundle_keys: BundleKeys) -> Path:
    sign_bundle(bundle_dir, load_signing_key(bundle_keys.signing))
    return bundle_dir


def checked(keys: BundleKeys, required: bool = False) -> RuntimeOptions:
    """How the API loads bundles with BADBUZZ_VERIFY_KEY set."""
    return RuntimeOptions(signatures=SignaturePolicy.from_key_file(keys.verify, required))


def edit_manifest(directory: Path, add: Sequence[str] = (), **changes: object) -> None:
    """Rewrite manifest.json by hand, as whoever can write to the registry can: apply
    `changes`, list the files `add` names, recompute every hash, leave manifest.sig as it was."""
    path = directory / MANIFEST
    values = json.loads(path.read_text())
    values.update(changes)
    names = [*values["files"], *add]
    values["files"] = {name: sha256_file(directory / name) for name in names}
    path.write_text(json.dumps(values, indent=2, sort_keys=True))


def test_a_signed_bundle_loads_and_scores(signed_dir: Path, bundle_keys: BundleKeys) -> None:
    bundle = ModelBundle.load(signed_dir, checked(bundle_keys, required=True))
    assert bundle.predict(["i love this airline", "they lost my bag"]) == ["positive", "negative"]


def test_a_tampered_and_rehashed_bundle_is_refused_before_unpickling(
    signed_dir: Path, bundle_keys: BundleKeys, tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    joblib.dump(RunsCode(marker), signed_dir / "model.joblib")
    edit_manifest(signed_dir)
    with pytest.raises(BundleError, match=f"signature in {SIGNATURE} does not match"):
        ModelBundle.load(signed_dir, checked(bundle_keys))
    assert not marker.exists()
    # the hashes alone let it through, and its code runs: what the signature is for
    ModelBundle.load(signed_dir)
    assert marker.is_dir()


def test_a_rehashed_bundle_without_its_signature_is_refused(
    signed_dir: Path, bundle_keys: BundleKeys
) -> None:
    edit_manifest(signed_dir, threshold=0.01)
    (signed_dir / SIGNATURE).unlink()
    with pytest.raises(BundleError, match=r"not signed .*BADBUZZ_SIGNING_KEY"):
        ModelBundle.load(signed_dir, checked(bundle_keys))
    assert ModelBundle.load(signed_dir).threshold == 0.01


def test_a_bundle_signed_with_another_key_is_refused(
    bundle_dir: Path, bundle_keys: BundleKeys, tmp_path: Path
) -> None:
    other, _ = create_key_pair(tmp_path / "other-keys")
    sign_bundle(bundle_dir, load_signing_key(other))
    with pytest.raises(BundleError, match="signed with another key"):
        ModelBundle.load(bundle_dir, checked(bundle_keys))
    (bundle_dir / SIGNATURE).write_bytes(b"\0" * 10)  # not even a signature's length
    with pytest.raises(BundleError, match="does not match the manifest"):
        ModelBundle.load(bundle_dir, checked(bundle_keys))


def test_a_verify_key_refuses_unsigned_bundles_in_development_too(
    bundle_dir: Path, bundle_keys: BundleKeys
) -> None:
    with pytest.raises(BundleError, match="not signed"):
        ModelBundle.load(bundle_dir, checked(bundle_keys, required=False))


def test_production_without_a_key_refuses_even_a_signed_bundle(signed_dir: Path) -> None:
    production = RuntimeOptions(signatures=SignaturePolicy(None, required=True))
    with pytest.raises(BundleError, match="no BADBUZZ_VERIFY_KEY is set"):
        ModelBundle.load(signed_dir, production)


def test_development_without_a_key_loads_old_bundles_and_warns_once(
    bundle_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    signing._warn_unchecked.cache_clear()
    development = RuntimeOptions(signatures=SignaturePolicy(None, required=False))
    with caplog.at_level(logging.WARNING, logger="badbuzz.bundle.signing"):
        for _ in range(2):
            assert ModelBundle.load(bundle_dir, development).predict(["great crew thanks"])
    warnings = [r.getMessage() for r in caplog.records if "not checked" in r.getMessage()]
    assert len(warnings) == 1 and "BADBUZZ_VERIFY_KEY" in warnings[0]


def test_rewriting_the_manifest_drops_the_old_signature(
    signed_dir: Path, bundle_keys: BundleKeys
) -> None:
    manifest = Manifest.read(signed_dir)
    manifest.threshold = 0.7
    manifest.write(signed_dir)  # what training's record() does before it signs
    assert not (signed_dir / SIGNATURE).exists()
    assert SIGNATURE not in Manifest.read(signed_dir).files
    sign_bundle(signed_dir, load_signing_key(bundle_keys.signing))
    assert ModelBundle.load(signed_dir, checked(bundle_keys)).threshold == 0.7


def test_the_signature_travels_in_the_archive(
    signed_dir: Path, bundle_keys: BundleKeys, tmp_path: Path
) -> None:
    archive = pack(signed_dir, tmp_path / "bundle.tar.gz")
    restored = unpack(
        archive,
        tmp_path / "restored",
        SignaturePolicy.from_key_file(bundle_keys.verify, required=True),
    )
    assert (restored / SIGNATURE).read_bytes() == (signed_dir / SIGNATURE).read_bytes()
    ModelBundle.load(restored, checked(bundle_keys, required=True))


# --- manifest paths stay inside the bundle ------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../outside.bin", "ABSOLUTE", "sub/../model.joblib", "./model.joblib", "sub//x.bin"],
    ids=["dotdot", "absolute", "dotdot-inside", "dot", "not-normalised"],
)
def test_manifest_paths_that_are_not_plain_relative_are_refused(
    bundle_dir: Path, name: str
) -> None:
    outside = bundle_dir.parent / "outside.bin"
    outside.write_bytes(b"any file the API process can read")
    (bundle_dir / "sub").mkdir()
    (bundle_dir / "sub" / "x.bin").write_bytes(b"x")
    name = str(outside) if name == "ABSOLUTE" else name
    edit_manifest(bundle_dir, add=[name])  # its hash is right: only the path is wrong
    with pytest.raises(BundleError, match="not a plain relative path inside the bundle"):
        ModelBundle.load(bundle_dir)
    with pytest.raises(BundleError, match="not a plain relative path"):
        verified_manifest(bundle_dir, None)


def test_a_model_file_outside_the_bundle_is_refused_before_unpickling(
    bundle_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    outside = bundle_dir.parent / "planted.joblib"
    joblib.dump(RunsCode(marker), outside)
    edit_manifest(bundle_dir, add=["../planted.joblib"], model_file="../planted.joblib")
    with pytest.raises(BundleError, match=r"'\.\./planted\.joblib'.*not a plain relative path"):
        ModelBundle.load(bundle_dir)
    assert not marker.exists()


def test_a_symlink_out_of_the_bundle_is_refused(bundle_dir: Path) -> None:
    outside = bundle_dir.parent / "secret.txt"
    outside.write_text("not the bundle's")
    (bundle_dir / "vocab.json").symlink_to(outside)
    edit_manifest(bundle_dir, add=["vocab.json"])
    with pytest.raises(BundleError, match=r"vocab\.json resolves to .*outside the bundle"):
        ModelBundle.load(bundle_dir)
    # the same link inside the folder is a file of the bundle like any other
    (bundle_dir / "vocab.json").unlink()
    (bundle_dir / "vocab.json").symlink_to(bundle_dir / "model.joblib")
    edit_manifest(bundle_dir)
    ModelBundle.load(bundle_dir)


def test_a_runtime_file_the_manifest_does_not_hash_is_refused(bundle_dir: Path) -> None:
    edit_manifest(bundle_dir, runtime_options={"vocab_file": "../elsewhere.json"})
    with pytest.raises(BundleError, match=r"no hash for vocab_file '\.\./elsewhere\.json'"):
        ModelBundle.load(bundle_dir)


def tar_with(archive: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(member, io.BytesIO(data) if data else None)
    return archive


@pytest.mark.parametrize("kind", ["symlink", "dotdot", "absolute"])
def test_an_archive_with_links_or_paths_out_of_the_bundle_is_refused(
    tmp_path: Path, kind: str
) -> None:
    member = tarfile.TarInfo({"symlink": "model.joblib", "dotdot": "../evil"}.get(kind, "/evil"))
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        member.size = 4
    archive = tar_with(tmp_path / "bad.tar.gz", member, b"evil" if kind != "symlink" else b"")
    target = tmp_path / "extract" / "bundle"
    with pytest.raises(BundleError, match="plain files at relative paths"):
        unpack(archive, target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "extract" / "evil").exists()


# --- keys ---------------------------------------------------------------------------------


def test_keys_create_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    from cli import app

    runner = CliRunner()
    done = runner.invoke(app, ["keys", "create", "--out", str(tmp_path / "keys")])
    assert done.exit_code == 0, done.output
    private, public = tmp_path / "keys" / "signing-key.pem", tmp_path / "keys" / "verify-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert f"BADBUZZ_SIGNING_KEY={private}" in done.output
    assert f"BADBUZZ_VERIFY_KEY={public}" in done.output
    first = private.read_bytes()
    again = runner.invoke(app, ["keys", "create", "--out", str(tmp_path / "keys")])
    assert isinstance(again.exception, SigningKeyError)
    assert "already exist" in str(again.exception) and private.read_bytes() == first
    forced = runner.invoke(app, ["keys", "create", "--out", str(tmp_path / "keys"), "--force"])
    assert forced.exit_code == 0 and private.read_bytes() != first


def test_keys_that_are_not_usable_are_refused_with_what_to_do(
    tmp_path: Path, bundle_keys: BundleKeys
) -> None:
    with pytest.raises(SigningKeyError, match=r"cannot read the signing key.*badbuzz keys create"):
        load_signing_key(tmp_path / "missing.pem")
    with pytest.raises(SigningKeyError, match="give the API the public one"):
        SignaturePolicy.from_key_file(bundle_keys.signing, required=True)
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM private key"):
        load_signing_key(bundle_keys.verify)


def test_doctor_checks_the_signature_as_the_api_does(
    bundle_dir: Path, bundle_keys: BundleKeys, tmp_path: Path
) -> None:
    from badbuzz.cpu import CpuInfo
    from badbuzz.doctor.bundle import check_bundle

    cpu = CpuInfo("test CPU", frozenset({"avx", "avx2"}))
    marker = tmp_path / "code-ran"
    joblib.dump(RunsCode(marker), bundle_dir / "model.joblib")
    edit_manifest(bundle_dir)
    refused = check_bundle(bundle_dir, tmp_path / "cache", cpu, 120, bundle_keys.verify, True)
    assert refused.status == "fail" and "not signed" in refused.detail, refused
    assert not marker.exists()
    # without the key, in development, doctor loads it as the API would: the code runs
    check_bundle(bundle_dir, tmp_path / "cache", cpu, 120)
    assert marker.is_dir()


def test_training_with_an_unusable_signing_key_stops_before_it_trains(tmp_path: Path) -> None:
    from tests.badbuzz_cli import run_badbuzz

    done = run_badbuzz(
        "train", "baseline", "--models", "nb", "--sample", "100",
        home=tmp_path / "home", env={"BADBUZZ_SIGNING_KEY": str(tmp_path / "no.pem")},
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "error: BADBUZZ_SIGNING_KEY=" in done.stderr and "badbuzz keys create" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "home" / "mlflow").exists()
