"""The registry side of serving, as the API resolves it (`api/resolve.py`): is MLflow there,
which version would be served (BADBUZZ_MODEL_ALIAS, else the best by BADBUZZ_SELECT_METRIC),
and can its bundle be fetched from the artifact store (its manifest, one small file)."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from badbuzz.doctor.result import CheckResult
from badbuzz.doctor.runtimes import runtime_gap
from badbuzz.settings import ApiSettings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CHECKS = ("mlflow", "champion", "artifacts")
NO_REGISTRY = "or set BADBUZZ_MODEL_BUNDLE to serve a bundle without it (badbuzz export)"


@dataclass(frozen=True)
class RegistryReport:
    results: list[CheckResult]  # one per CHECKS, in that order
    bundle_runtime: str | None = None  # the served version's manifest runtime, once fetched

    def against(self, runtimes: Sequence[CheckResult]) -> list[CheckResult]:
        """The results, the artifacts line failed when no runtime here scores the bundle."""
        gap = runtime_gap(self.bundle_runtime, runtimes) if self.bundle_runtime else None
        if gap is None:
            return self.results
        *first, artifacts = self.results
        return [
            *first,
            replace(
                artifacts,
                status="fail",
                detail=f"{artifacts.detail}; {gap}",
                action="install the extra it needs (badbuzz[api] has every runtime), or "
                "serve a version this install runs",
            ),
        ]


def skipped(why: str, start: int = 0) -> list[CheckResult]:
    return [CheckResult(name, "skipped", why) for name in CHECKS[start:]]


def check_registry(settings: ApiSettings, timeout_s: float) -> RegistryReport:
    """MLflow, the version the API would serve, and its artifacts: each a failure when the
    registry is where the model comes from (no BADBUZZ_MODEL_BUNDLE)."""
    if settings.model_bundle:
        return RegistryReport(skipped("BADBUZZ_MODEL_BUNDLE is set: the API serves it instead"))
    if importlib.util.find_spec("mlflow") is None:
        return RegistryReport(
            [
                CheckResult(
                    "mlflow",
                    "fail",
                    "no model to serve: the registry client is not installed and "
                    "BADBUZZ_MODEL_BUNDLE is unset",
                    f"install badbuzz[registry] to follow the champion in MLflow, {NO_REGISTRY}",
                ),
                *skipped("no registry client", start=1),
            ]
        )
    from badbuzz.registry import mlflow_http

    # one try, `timeout_s` long: MLflow's default retries a dead host for minutes
    with mlflow_http(retries=0, timeout_s=timeout_s):
        return _check_reached(settings, timeout_s)


def _check_reached(settings: ApiSettings, timeout_s: float) -> RegistryReport:
    reached = reach(settings, timeout_s)
    if isinstance(reached, CheckResult):
        return RegistryReport([reached, *skipped("MLflow not reached", start=1)])
    client, where = reached
    mlflow_ok = CheckResult("mlflow", "ok", where)
    chosen = choose(client, settings)
    if isinstance(chosen, CheckResult):
        return RegistryReport([mlflow_ok, chosen, *skipped("no version to fetch", start=2)])
    version, champion = chosen
    artifacts, runtime = fetch_manifest(settings.model_name, version)
    return RegistryReport([mlflow_ok, champion, artifacts], runtime)


def reach(settings: ApiSettings, timeout_s: float) -> tuple[MlflowClient, str] | CheckResult:
    """A client of the configured store, once it answered; else why not."""
    from mlflow.tracking import MlflowClient

    from badbuzz.registry import EMBEDDED_DB, configure_tracking

    if not settings.mlflow_tracking_uri:
        store = settings.mlflow_dir / EMBEDDED_DB
        if not store.is_file():  # opening it would create an empty one
            return CheckResult(
                "mlflow",
                "fail",
                f"MLFLOW_TRACKING_URI unset and no embedded store at {store}",
                "set MLFLOW_TRACKING_URI to your MLflow server, or train and promote here "
                f"(badbuzz train baseline; badbuzz promote), {NO_REGISTRY}",
            )
    target = configure_tracking(settings)
    embedded = f"embedded store {settings.mlflow_dir / EMBEDDED_DB}"
    where = embedded if target.embedded else target.tracking_uri
    client = MlflowClient()
    try:
        client.search_registered_models(max_results=1)
    except Exception as error:  # refused, timed out, DNS, TLS, 401: each says itself
        return CheckResult(
            "mlflow",
            "fail",
            f"{where} unreachable: {first_line(error)}",
            "start it, or fix MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_USERNAME/PASSWORD), "
            + NO_REGISTRY,
        )
    return client, f"{where} answers"


def choose(client: MlflowClient, settings: ApiSettings) -> tuple[str, CheckResult] | CheckResult:
    """The version the API would serve, as `api/resolve.py` chooses it."""
    from mlflow.exceptions import MlflowException

    from badbuzz.errors import RegistryError
    from badbuzz.registry import best_version

    name = settings.model_name
    try:
        if settings.model_alias:
            mv = client.get_model_version_by_alias(name, settings.model_alias)
            version, how = str(mv.version), f"@{settings.model_alias}"
            tags = dict(mv.tags or {})
        else:
            best = best_version(
                client,
                name,
                settings.select_metric,
                settings.embedding_type,
                settings.min_positive_recall,
            )
            version, how = best.version, f"best by {settings.select_metric} {best.score:.3f}"
            tags = {"model_family": best.model_family, "embedding_type": best.embedding_type}
    except RegistryError as error:
        return CheckResult("champion", "fail", f"no version of {name!r} to serve", str(error))
    except MlflowException as error:
        action = (
            f"promote one (badbuzz promote), or unset BADBUZZ_MODEL_ALIAS to serve the best "
            f"by BADBUZZ_SELECT_METRIC; check BADBUZZ_MODEL_NAME ({name})"
            if settings.model_alias
            else f"train one (badbuzz train baseline), or check BADBUZZ_MODEL_NAME ({name})"
        )
        return CheckResult("champion", "fail", first_line(error), action)
    family = f"{tags.get('model_family', '?')}, {tags.get('embedding_type', '?')}"
    return version, CheckResult("champion", "ok", f"{name} version {version} ({how}): {family}")


def fetch_manifest(name: str, version: str) -> tuple[CheckResult, str | None]:
    """The version's bundle manifest from the artifact store: the store answers, and the
    manifest says which runtime the bundle needs."""
    import mlflow

    uri = f"models:/{name}/{version}/artifacts/bundle/manifest.json"
    try:
        with tempfile.TemporaryDirectory(prefix="badbuzz-doctor-") as tmp:
            path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
            runtime = str(json.loads(Path(path).read_text())["runtime"])
    except Exception as error:  # the store is down, the key is missing, not a bundle
        return (
            CheckResult(
                "artifacts",
                "fail",
                f"cannot fetch version {version}'s bundle: {first_line(error)}",
                "check the artifact store behind MLflow (compose: MinIO, and the server's "
                "--artifacts-destination)",
            ),
            None,
        )
    found = f"version {version}'s {runtime} bundle is there (manifest fetched)"
    return CheckResult("artifacts", "ok", found), runtime


def first_line(error: BaseException, limit: int = 200) -> str:
    """What went wrong, short: the network error at the root of a chain (refused, timed
    out, no such host) rather than the client's wrapping of it; else the first line."""
    root, seen = error, {id(error)}
    while (cause := root.__cause__ or root.__context__) is not None and id(cause) not in seen:
        root, seen = cause, seen | {id(cause)}
    if isinstance(root, OSError) and root is not error:
        return f"{type(root).__name__}: {root.strerror or root}"
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
