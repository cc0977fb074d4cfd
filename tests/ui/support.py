"""What the console tests share: an API process serving a tiny real model, the console as
a process, and a look into the API's store."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.api.support import API_KEY, Api, start_api
from tests.badbuzz_cli import BADBUZZ
from tests.processes import Server, clean_env, free_port


def serve(root: Path, bundle: Path, **settings: str) -> Api:
    """`badbuzz serve` of `bundle`, home and logs under `root`."""
    return start_api(
        root / "home",
        root / "work",
        {"BADBUZZ_MODEL_BUNDLE": str(bundle), "BADBUZZ_API_KEY": API_KEY, **settings},
        name="ui-api",
    )


def start_console(
    api_url: str, workdir: Path, badbuzz: Path = BADBUZZ, *, password: str | None = None
) -> Server:
    """`badbuzz console` (of the install holding `badbuzz`) talking to `api_url`, ready; with
    `password`, its login asks for it."""
    port = free_port()
    settings = {"BADBUZZ_API_URL": api_url, "BADBUZZ_API_KEY": API_KEY}
    if password is not None:
        settings["BADBUZZ_CONSOLE_PASSWORD"] = password
    env = clean_env(settings)
    server = Server.start(
        "console", [str(badbuzz), "console", "--port", str(port)], port=port, env=env,
        workdir=workdir,
    )  # fmt: skip
    try:
        server.wait_ready("/_stcore/health", timeout_s=60)
    except BaseException:
        server.stop()
        raise
    return server


def feedback_rows(api: Api) -> list[tuple[str | None, bool, str | None]]:
    """(prediction id, correct, right label) of every verdict in the API's store."""
    engine = sa.create_engine(f"sqlite:///{api.home / 'badbuzz.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT prediction_id, correct, right_label FROM feedback")
            )
            return [(row[0], bool(row[1]), row[2]) for row in rows]
    finally:
        engine.dispose()
