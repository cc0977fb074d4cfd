"""An answered prediction is stored: `badbuzz serve` killed (SIGKILL, no shutdown) right
after its last answers keeps every prediction it answered with an id, so a verdict that
arrives after a restart finds its prediction."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from .support import start_api

TWEETS = 200


def test_every_answered_prediction_survives_a_sigkill_right_after_its_answer(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = {"BADBUZZ_MODEL_BUNDLE": str(tiny_bundle), "BADBUZZ_RELOAD_INTERVAL_S": "0"}
    api = start_api(home, tmp_path, settings, name="to-kill")

    def predict(n: int) -> str:
        with httpx.Client(base_url=api.url, timeout=30) as client:
            answer = client.post("/predict", json={"text": f"lost my bag again, flight {n}"})
            answer.raise_for_status()
            return str(answer.json()["prediction_id"])

    with ThreadPoolExecutor(8) as pool:  # concurrent: commits are shared by requests
        answered = list(pool.map(predict, range(TWEETS)))
    api.kill()  # at once: no lifespan shutdown, no flush

    with sqlite3.connect(home / "badbuzz.db") as database:
        stored = {row[0] for row in database.execute("SELECT id FROM predictions")}
    assert len(answered) == TWEETS
    assert set(answered) <= stored, f"{len(set(answered) - stored)} answered ids were lost"

    again = start_api(home, tmp_path, settings, name="after-kill")
    try:
        verdict = again.client().post(
            "/feedback", json={"prediction_id": answered[-1], "correct": False}
        )
        assert verdict.status_code == 201, verdict.text
    finally:
        again.stop()
