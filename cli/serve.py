"""`badbuzz serve`: run the API with uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cli.console import start_console

app = typer.Typer()


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="Port; default $PORT (Cloud Run), else 8000.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    console_port: Annotated[
        int | None,
        typer.Option(help="Also serve the console on this port (stopped with the API)."),
    ] = None,
) -> None:
    """Serve the model API (settings: BADBUZZ_* environment variables, see README)."""
    import logging
    import sys

    import uvicorn
    from pydantic import ValidationError

    from badbuzz.settings import ApiSettings, setting_name

    try:
        settings = ApiSettings()  # refuse to start on bad settings (e.g. a default key)
    except ValidationError as error:
        # only the messages: the input itself may be a (weak) secret
        for problem in error.errors():
            where = setting_name(problem["loc"])
            typer.echo(f"error: {where + ': ' if where else ''}{problem['msg']}", err=True)
        raise typer.Exit(2) from None
    if workers > 1:
        share_metrics_between_workers(settings.home / "prometheus")
    # One JSON line per prediction on stdout, for log shippers and later retraining.
    predictions = logging.getLogger("badbuzz.predictions")
    predictions.addHandler(logging.StreamHandler(sys.stdout))
    predictions.propagate = False
    port = port or int(os.environ.get("PORT", "8000"))
    console = None
    if console_port is not None:
        console = start_console(host, console_port, f"http://{host}:{port}")
        typer.echo(f"Console on http://{host}:{console_port} (the API: http://{host}:{port})")
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=False,
        )
    finally:
        if console is not None:
            console.terminate()
            console.wait(timeout=15)


def share_metrics_between_workers(default_dir: Path) -> None:
    """Prometheus multiprocess mode: workers write their metrics to files in one folder
    (PROMETHEUS_MULTIPROC_DIR, or `default_dir`), emptied first: files of an earlier run
    would be counted again."""
    from api.prometheus import MULTIPROCESS_DIR_ENV

    folder = Path(os.environ.get(MULTIPROCESS_DIR_ENV) or default_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIR_ENV] = str(folder)
