"""`badbuzz console`: the Streamlit console (`ui/app.py`), pointed at an API.

`badbuzz serve --console-port N` starts the same command as a child of the API, so that
`make demo` serves both and one Ctrl+C stops both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer

from badbuzz.errors import UserError

app = typer.Typer()

DEFAULT_PORT = 8501


def console_app() -> Path:
    """`ui/app.py` of this install (the `ui` package is installed next to the core)."""
    spec = find_spec("ui")
    if spec is None or spec.origin is None:
        raise UserError("the console (the ui package) is not installed: install badbuzz[ui]")
    return Path(spec.origin).parent / "app.py"


def console_command(host: str, port: int) -> list[str]:
    """Streamlit serving the console on host:port, headless, with no usage statistics."""
    if find_spec("streamlit") is None:
        raise ModuleNotFoundError("streamlit is not installed", name="streamlit")
    return [
        sys.executable, "-m", "streamlit", "run", str(console_app()),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--client.toolbarMode", "viewer",  # no "Deploy" button for the airline's team
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def start_console(host: str, port: int, api_url: str) -> subprocess.Popen[bytes]:
    """The console as a child process talking to `api_url`."""
    env = {**os.environ, "BADBUZZ_API_URL": api_url}
    return subprocess.Popen(console_command(host, port), env=env)


@app.command("console")
def console(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the console.")] = DEFAULT_PORT,
) -> None:
    """Serve the console for the airline's team (the API: BADBUZZ_API_URL, BADBUZZ_API_KEY)."""
    from badbuzz.settings import UiSettings

    settings = UiSettings()
    typer.echo(f"Console on http://{host}:{port}, talking to the API at {settings.api_url}")
    command = console_command(host, port)
    os.execv(command[0], command)  # streamlit handles Ctrl+C and TERM itself
