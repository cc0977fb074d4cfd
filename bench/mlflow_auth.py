"""What MLflow's basic auth costs a client of the NAS stack, with compose/mlflow's settings
and with its credential cache off (`auth_cache_ttl_seconds = 0`, MLflow's default).

For each, it starts `mlflow server --app-name basic-auth` from compose/mlflow/basic_auth.ini
(SQLite backend, artifacts proxied to a local folder) and measures, as the admin:
1. one authenticated request (GET experiments/get-by-name), median of --requests;
2. logging one run as training does (20 params, 20 metric calls, 12 small artifact files,
   tags, end), median wall time of --runs.

    .venv/bin/python -m bench.mlflow_auth [--requests 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import configparser
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.mlflow_auth import ADMIN, auth_config, start_mlflow_with_basic_auth

SETTINGS = {"cache off (MLflow's default)": {"auth_cache_ttl_seconds": "0"}, "compose": {}}


def median_seconds(action: Callable[[], object], times: int) -> float:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def log_a_run(uri: str, artifacts: Path) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.create_run("0")
    client.log_batch(run.info.run_id, params=[Param(f"p{i}", str(i)) for i in range(20)])
    for step in range(20):
        client.log_batch(run.info.run_id, metrics=[Metric("loss", 1 / (step + 1), 0, step)])
    client.log_artifacts(run.info.run_id, str(artifacts))
    client.set_tag(run.info.run_id, "model_family", "logistic_regression")
    client.set_terminated(run.info.run_id)


def measure(name: str, overrides: dict[str, str], work: Path, args: argparse.Namespace) -> float:
    folder = work / name.split()[0]
    folder.mkdir()
    server = start_mlflow_with_basic_auth(
        f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts"), folder, overrides=overrides
    )
    try:
        with httpx.Client(auth=ADMIN, timeout=30) as client:
            url = f"{server.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
            assert client.get(url).status_code == 200
            request = median_seconds(lambda: client.get(url).raise_for_status(), args.requests)
        run = median_seconds(lambda: log_a_run(server.url, work / "artifacts"), args.runs)
    finally:
        server.stop()
    config = configparser.ConfigParser()
    config.read(auth_config(folder, overrides))
    ttl = config["mlflow"].get("auth_cache_ttl_seconds", "0")
    print(
        f"{name:<30} ttl {ttl:>3} s   request {request * 1000:7.1f} ms   "
        f"one run logged {run:6.2f} s",
        flush=True,
    )
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-auth-") as tmp:
        work = Path(tmp)
        (work / "artifacts").mkdir()
        for i in range(12):
            (work / "artifacts" / f"file{i}.txt").write_text("x" * 1000)
        runs = [measure(name, overrides, work, args) for name, overrides in SETTINGS.items()]
    print(f"a run logs {runs[0] / runs[1]:.1f}x faster with compose's settings")


if __name__ == "__main__":
    main()
