"""The API serves only bundles training signed, in production or once BADBUZZ_VERIFY_KEY is
set: in process (the service and its settings) and as a process (`badbuzz serve`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.service import ModelService
from badbuzz.bundle.archive import pack
from badbuzz.bundle.manifest import MANIFEST, SIGNATURE
from badbuzz.bundle.signing import load_signing_key, sign_bundle
from badbuzz.settings import ApiSettings
from tests.conftest import BundleKeys
from tests.integration.support import Cli

from .support import API_KEY, start_api


@pytest.fixture
def unsigned(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A bundle written before signing existed (or by training without a signing key)."""
    return Path(shutil.copytree(tiny_bundle, tmp_path / "unsigned"))


@pytest.fixture
def signed(tiny_bundle: Path, tmp_path: Path, bundle_keys: BundleKeys) -> Path:
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "signed"))
    sign_bundle(bundle, load_signing_key(bundle_keys.signing))
    return bundle


@pytest.fixture
def production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundle_keys: BundleKeys
) -> pytest.MonkeyPatch:
    """The environment of a production API (no project `.env` read)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BADBUZZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BADBUZZ_ENVIRONMENT", "production")
    monkeypatch.setenv("BADBUZZ_API_KEY", API_KEY)
    monkeypatch.setenv("BADBUZZ_VERIFY_KEY", str(bundle_keys.verify))
    return monkeypatch


def serve(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> ModelService:
    monkeypatch.setenv("BADBUZZ_MODEL_BUNDLE", str(bundle))
    service = ModelService(ApiSettings())
    service.reload()
    return service


def test_production_serves_a_signed_bundle(signed: Path, production: pytest.MonkeyPatch) -> None:
    service = serve(signed, production)
    assert service.current is not None, service.not_ready_reason
    assert service.current.classify(["love it"]).labels[0] in ("positive", "negative")


def test_production_refuses_an_unsigned_bundle_and_says_what_to_do(
    unsigned: Path, production: pytest.MonkeyPatch
) -> None:
    service = serve(unsigned, production)
    assert service.current is None
    assert "not signed" in service.not_ready_reason
    assert "BADBUZZ_SIGNING_KEY" in service.not_ready_reason


def test_production_refuses_a_tampered_rehashed_archive(
    signed: Path, production: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The registry writer's move: change the threshold, recompute the hashes, keep the
    signature; packed as the archive an image carries."""
    values = json.loads((signed / MANIFEST).read_text())
    values["threshold"] = 0.0  # every tweet positive
    (signed / MANIFEST).write_text(json.dumps(values))
    assert (signed / SIGNATURE).is_file()
    service = serve(pack(signed, tmp_path / "bundle.tar.gz"), production)
    assert service.current is None
    assert "does not match the manifest" in service.not_ready_reason


def test_production_does_not_start_without_a_verify_key(
    production: pytest.MonkeyPatch, signed: Path
) -> None:
    production.delenv("BADBUZZ_VERIFY_KEY")
    with pytest.raises(ValidationError, match=r"BADBUZZ_VERIFY_KEY must be set in production"):
        ApiSettings()


def test_a_verify_key_that_is_the_private_half_stops_the_start(
    production: pytest.MonkeyPatch, bundle_keys: BundleKeys
) -> None:
    production.setenv("BADBUZZ_VERIFY_KEY", str(bundle_keys.signing))
    with pytest.raises(ValidationError, match="give the API the public one"):
        ApiSettings()


def test_development_serves_an_unsigned_bundle(
    unsigned: Path, production: pytest.MonkeyPatch
) -> None:
    production.setenv("BADBUZZ_ENVIRONMENT", "development")
    production.delenv("BADBUZZ_VERIFY_KEY")
    service = serve(unsigned, production)
    assert service.current is not None, service.not_ready_reason


def test_badbuzz_serve_in_production_is_ready_only_with_a_signed_bundle(
    signed: Path, unsigned: Path, tmp_path: Path, bundle_keys: BundleKeys
) -> None:
    settings = {
        "BADBUZZ_ENVIRONMENT": "production",
        "BADBUZZ_API_KEY": API_KEY,
        "BADBUZZ_VERIFY_KEY": str(bundle_keys.verify),
    }
    for bundle, code in ((signed, 200), (unsigned, 503)):
        root = tmp_path / f"api-{bundle.name}"
        root.mkdir()
        api = start_api(root / "home", root, {**settings, "BADBUZZ_MODEL_BUNDLE": str(bundle)})
        try:
            ready = api.client().get("/health/ready")
        finally:
            api.stop()
        assert ready.status_code == code, ready.text
        if code == 503:
            assert "not signed" in ready.json()["reason"]


def test_production_serves_what_training_signed_in_the_registry(
    sentiment140: Path, tmp_path: Path, bundle_keys: BundleKeys, production: pytest.MonkeyPatch
) -> None:
    """The whole path: `badbuzz train` with BADBUZZ_SIGNING_KEY registers a signed bundle,
    and a production API follows the registry to it."""
    home = tmp_path / "trainer"
    cli = Cli(home, sentiment140)
    trained = cli(
        "train", "baseline", "--models", "nb", "--sample", "2000",
        BADBUZZ_SIGNING_KEY=str(bundle_keys.signing),
    )  # fmt: skip
    assert trained.returncode == 0, cli.explain(trained)
    production.setenv("BADBUZZ_HOME", str(home))  # the embedded store training wrote to
    production.setenv("BADBUZZ_MIN_POSITIVE_RECALL", "0")
    service = ModelService(ApiSettings())
    service.reload()
    assert service.current is not None, service.not_ready_reason
    assert service.current.source.version == "1"
    assert (service.current.source.directory / SIGNATURE).is_file()
