"""Which bundle to serve: a local bundle, or a registered version (by alias or by best metric)
downloaded into a disk cache that outlives the registry, so a restart with MLflow or MinIO
down still serves the last good model."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from badbuzz.bundle.archive import unpack
from badbuzz.bundle.manifest import sha256_file
from badbuzz.bundle.signing import verified_manifest
from badbuzz.errors import BundleError
from badbuzz.settings import ApiSettings

log = logging.getLogger(__name__)
REGISTRY_RETRIES, REGISTRY_TIMEOUT_S = 1, 10.0  # each call to MLflow while resolving

LAST_GOOD = "last_good.json"


class ModelUnavailable(RuntimeError):
    """No bundle can be served; the message says why and what to do."""


@dataclass(frozen=True)
class ResolvedBundle:
    directory: Path
    name: str
    version: str
    tags: dict[str, str] = field(default_factory=dict)
    stale: bool = False  # the registry could not be asked: this is the last good cached one
    stale_reason: str = ""


def _cache_root(settings: ApiSettings) -> Path:
    return settings.model_cache_dir / settings.model_name


def _local_bundle(settings: ApiSettings, path: Path) -> ResolvedBundle:
    if not path.exists():
        raise ModelUnavailable(f"BADBUZZ_MODEL_BUNDLE={path}: no such file or folder")
    directory = path
    if path.is_file():  # keyed by content: a replaced archive is extracted again
        directory = settings.model_cache_dir / "local" / sha256_file(path)[:16]
        if not (directory / "manifest.json").is_file():
            try:
                unpack(path, directory)
            except BundleError as error:
                raise ModelUnavailable(str(error)) from error
    try:
        verified_manifest(directory, settings.signature_policy())
    except BundleError as error:
        raise ModelUnavailable(str(error)) from error
    return ResolvedBundle(directory, settings.model_name, "local")


def _registry_choice(settings: ApiSettings) -> tuple[str, dict[str, str]]:
    """(version, tags) from the registry; raises whatever the client raises."""
    from mlflow.tracking import MlflowClient

    from badbuzz.registry import best_version, configure_tracking

    # the same store training writes to: the server if set, else the embedded one under home
    configure_tracking(settings)
    client = MlflowClient()
    if settings.model_alias:
        mv = client.get_model_version_by_alias(settings.model_name, settings.model_alias)
        return str(mv.version), dict(mv.tags or {})
    best = best_version(
        client,
        settings.model_name,
        settings.select_metric,
        settings.embedding_type,
        settings.min_positive_recall,
    )
    mv = client.get_model_version(settings.model_name, best.version)
    return best.version, dict(mv.tags or {})


def _download(settings: ApiSettings, version: str) -> Path:
    """The version's bundle in the cache, downloaded once and verified."""
    from badbuzz.registry import download_bundle

    target = _cache_root(settings) / version
    signatures = settings.signature_policy()
    if (target / "manifest.json").is_file():
        try:
            verified_manifest(target, signatures)
            return target
        except BundleError as error:
            log.warning("cached bundle damaged, downloading it again: %s", error)
            shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        bundle = download_bundle(f"models:/{settings.model_name}/{version}", Path(tmp))
        verified_manifest(bundle, signatures)
        shutil.move(str(bundle), target)  # complete bundles only ever appear in the cache
    return target


def remember_good(settings: ApiSettings, resolved: ResolvedBundle) -> None:
    """Record the bundle that loaded and passed its smoke test."""
    if resolved.version == "local":
        return
    record: dict[str, Any] = asdict(resolved) | {"directory": str(resolved.directory)}
    record.pop("stale"), record.pop("stale_reason")
    path = _cache_root(settings) / LAST_GOOD
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(record))
    partial.replace(path)


def last_good(settings: ApiSettings, reason: str) -> ResolvedBundle:
    path = _cache_root(settings) / LAST_GOOD
    if not path.is_file():
        raise ModelUnavailable(f"{reason}; and no cached model yet")
    record = json.loads(path.read_text())
    directory = Path(record["directory"])
    try:
        verified_manifest(directory, settings.signature_policy())
    except BundleError as error:
        raise ModelUnavailable(f"{reason}; and the cached model is unusable: {error}") from error
    return ResolvedBundle(
        directory, record["name"], record["version"], record["tags"], True, reason
    )


def _registry_answered(error: Exception) -> bool:
    from mlflow.exceptions import MlflowException

    return isinstance(error, MlflowException) and error.error_code in (
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_PARAMETER_VALUE",
    )


def resolve_bundle(settings: ApiSettings) -> ResolvedBundle:
    """The bundle to serve now: local, or from the registry, or the last good cached one."""
    if settings.model_bundle:
        return _local_bundle(settings, settings.model_bundle)
    if importlib.util.find_spec("mlflow") is None:
        raise ModelUnavailable(
            "no BADBUZZ_MODEL_BUNDLE is set and the registry client is not installed here: "
            "set BADBUZZ_MODEL_BUNDLE to a bundle (badbuzz export writes one), or install "
            "badbuzz[registry] to follow the champion in MLflow"
        )
    from badbuzz.registry import mlflow_http

    try:
        # a registry that is down must not hold start-up for minutes of retries with backoff
        with mlflow_http(retries=REGISTRY_RETRIES, timeout_s=REGISTRY_TIMEOUT_S):
            version, tags = _registry_choice(settings)
            directory = _download(settings, version)
    except (BundleError, LookupError) as error:
        # the registry answered, but has nothing servable: say so, but keep any cache
        log.warning("registry has no servable model: %s", error)
        return last_good(settings, str(error))
    except Exception as error:
        if _registry_answered(error):  # e.g. no such alias: nothing servable, not "down"
            log.warning("registry has no servable model: %s", error)
            return last_good(settings, str(error))
        # connection refused, timeouts, S3 errors: the registry is down
        log.warning("model registry unreachable: %s", error)
        return last_good(settings, f"registry unreachable: {type(error).__name__}: {error}")
    return ResolvedBundle(directory, settings.model_name, version, tags)
