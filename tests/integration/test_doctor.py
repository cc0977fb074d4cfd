"""`badbuzz doctor` as a process, against real parts: a PostgreSQL database, an SMTP server
that wants STARTTLS and a login, and an embedded MLflow store with a tiny bundle registered
as the champion; then against an MLflow host that never answers, with no bundle."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.badbuzz_cli import run_badbuzz
from tests.integration.support import postgres_or_skip
from tests.processes import NO_TELEMETRY
from tests.smtp import SmtpServer

MODEL = "tweet-sentiment"
# TEST-NET-1 (RFC 5737): routed nowhere, so a connection waits until its timeout
DEAD_HOST = "http://192.0.2.1:5000"


@pytest.fixture(scope="module")
def home(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BADBUZZ_HOME with the embedded store holding the tiny bundle as version 1, @champion."""
    import mlflow
    from mlflow.tracking import MlflowClient

    home = tmp_path_factory.mktemp("doctor") / "home"
    source = home.parent / "logged-model"
    shutil.copytree(tiny_bundle, source / "artifacts" / "bundle")
    (home / "mlflow").mkdir(parents=True)
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    client.create_registered_model(MODEL)
    tags = {"model_family": "logreg", "embedding_type": "tfidf", "positive_precision": "0.7"}
    version = client.create_model_version(MODEL, str(source), tags=tags).version
    client.set_registered_model_alias(MODEL, "champion", str(version))
    return home


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with postgres_or_skip("badbuzz_doctor") as url:
        yield url


def doctor(home: Path, settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "200", **NO_TELEMETRY, **settings}
    return run_badbuzz("doctor", *args, home=home, env=env, cwd=home.parent, timeout=180)


def line(output: str, check: str) -> str:
    """The table's row of `check` (one line each at 200 columns)."""
    [row] = [row for row in output.splitlines() if re.match(rf"\s*{re.escape(check)}\s", row)]
    return " ".join(row.split())


def test_a_box_that_can_serve(home: Path, database: str) -> None:
    with SmtpServer(security="starttls", user="alerts", password="s3cret") as smtp:
        settings = {
            "BADBUZZ_MODEL_ALIAS": "champion",
            "BADBUZZ_DATABASE_URL": database,
            "BADBUZZ_ALERT_TO": "ops@example.org",
            **smtp.env(),
        }
        result = doctor(home, settings)
        assert smtp.received == []  # the handshake only: no mail sent
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    assert line(out, "mlflow") == (
        f"mlflow ok embedded store {home / 'mlflow' / 'mlflow.db'} answers"
    )
    assert line(out, "champion") == (
        "champion ok tweet-sentiment version 1 (@champion): logreg, tfidf"
    )
    assert line(out, "artifacts").startswith("artifacts ok version 1's sklearn bundle is there")
    assert line(out, "database").startswith(f"database ok {database}: SELECT 1 in ")
    assert line(out, "smtp") == (
        f"smtp ok 127.0.0.1:{smtp.port} (starttls): EHLO, STARTTLS, login ok; no mail sent"
    )
    assert line(out, "scikit-learn").startswith("scikit-learn ok loads (")
    assert line(out, "runtimes").startswith("runtimes ok serves ")
    assert line(out, "bundle").startswith("bundle skipped")
    assert out.rstrip().splitlines()[-1].startswith("ready to serve")


def test_no_registry_and_no_bundle_cannot_serve(home: Path) -> None:
    started = time.monotonic()
    result = doctor(home, {"MLFLOW_TRACKING_URI": DEAD_HOST}, "--json", "--timeout", "2")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, f"{result.stdout}\n{result.stderr}"
    report = json.loads(result.stdout)
    checks = {check["check"]: check for check in report["checks"]}
    assert report["can_serve"] is False
    assert checks["mlflow"]["status"] == "fail"
    assert checks["mlflow"]["detail"].startswith(f"{DEAD_HOST} unreachable: ")
    assert "set BADBUZZ_MODEL_BUNDLE to serve a bundle without it" in checks["mlflow"]["action"]
    assert checks["champion"]["status"] == checks["artifacts"]["status"] == "skipped"
    assert checks["database"]["status"] == "ok"  # SQLite under home, created by the API
    assert checks["smtp"]["status"] == "skipped"
    assert [c["check"] for c in report["checks"] if c["status"] == "fail"] == ["mlflow"]
    # one try of 2 s, not MLflow's default retries (minutes)
    assert elapsed < 60, elapsed
