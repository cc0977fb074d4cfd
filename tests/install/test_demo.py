"""`make demo`, the README's main command, on a small sample: train, promote, evaluate, serve
the champion and the console, with BADBUZZ_HOME relative to the checkout as the Makefile
sets it; stopping it stops both."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.processes import Server, clean_env, free_port

pytestmark = pytest.mark.integration

DEMO_READY_TIMEOUT_S = 300.0


def test_make_demo_serves_the_champion_and_the_console(
    sentiment140_dir: Path, tmp_path: Path
) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    home = Path(os.path.relpath(tmp_path / "demo-home", REPO))
    assert not home.is_absolute()
    port, console_port = free_port(), free_port()
    command = [
        "make", "--no-print-directory", "-C", str(REPO), "demo",
        f"DEMO_HOME={home}", f"DEMO_PORT={port}", f"DEMO_CONSOLE_PORT={console_port}",
        "DEMO_MODELS=nb,logreg", "DEMO_SAMPLE=2000",
        f"SENTIMENT140={sentiment140_dir}",
    ]  # fmt: skip
    console = f"http://127.0.0.1:{console_port}"
    demo = Server.start("make-demo", command, port=port, env=clean_env(), workdir=tmp_path)
    try:
        demo.wait_ready("/health/ready", timeout_s=DEMO_READY_TIMEOUT_S)
        answer = httpx.post(
            f"{demo.url}/predict", json={"text": "@united lost my bag again"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"]["version"] in ("1", "2", "3")  # nb, logreg, ensemble
        log = demo.log.read_text()
        assert "@champion -> tweet-sentiment version" in log
        assert (tmp_path / "demo-home" / "mlflow" / "mlflow.db").is_file()
        assert f"Console on {console}" in log
        # the same process group, answering on the console's port
        replace(demo, name="console", url=console).wait_ready("/_stcore/health")
    finally:
        demo.stop()
    with pytest.raises(httpx.ConnectError):  # one stop (Ctrl+C: the whole group) stops both
        httpx.get(f"{console}/_stcore/health", timeout=5)
