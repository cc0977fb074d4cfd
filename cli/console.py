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
from typing import TYPE_CHECKING, Annotated

import typer

from badbuzz.errors import UserError

if TYPE_CHECKING:
    from badbuzz.settings import UiSettings

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


def console_settings() -> UiSettings:
    """The console's settings, or a UserError saying what to set (never the values: a
    password may be among them)."""
    from pydantic import ValidationError

    from badbuzz.settings import UiSettings

    try:
        return UiSettings()
    except ValidationError as error:
        problems = "; ".join(problem["msg"] for problem in error.errors())
        raise UserError(f"the console cannot start: {problems}") from None


def start_console(host: str, port: int, api_url: str) -> subprocess.Popen[bytes]:
    """The console as a child process talking to `api_url`, once its settings are valid."""
    console_settings()
    env = {**os.environ, "BADBUZZ_API_URL": api_url}
    return subprocess.Popen(console_command(host, port), env=env)


@app.command("console")
def console(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the console.")] = DEFAULT_PORT,
) -> None:
    """Serve the console for the airline's team (the API: BADBUZZ_API_URL, BADBUZZ_API_KEY;
    its login: BADBUZZ_CONSOLE_PASSWORD)."""
    settings = console_settings()
    login = "a password" if settings.console_password is not None else "no login"
    if settings.console_password is None and settings.console_login == "proxy":
        login = "the proxy's login"
    typer.echo(
        f"Console on http://{host}:{port} ({login}), talking to the API at {settings.api_url}"
    )
    command = console_command(host, port)
    os.execv(command[0], command)  # streamlit handles Ctrl+C and TERM itself
