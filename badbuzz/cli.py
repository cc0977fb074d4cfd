"""The `badbuzz` command: one group per stage of the model's life."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from api import cli as api_cli
from training import cli as training_cli
from training import deep_cli, transformer_cli

app = typer.Typer(
    help="badbuzz: train, track, promote and serve tweet-sentiment models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(training_cli.data_app, name="data")
training_cli.train_app.command("transformer")(transformer_cli.transformer)
app.add_typer(training_cli.train_app, name="train")
app.command("evaluate")(training_cli.evaluate)
app.command("promote")(training_cli.promote)
app.command("export")(training_cli.export)
app.command("serve")(api_cli.serve)
app.command("tune")(deep_cli.tune)
training_cli.train_app.command("lstm")(deep_cli.lstm)


@app.callback()
def configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Logs go to stderr with rich formatting; results go to stdout."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    for noisy in ("alembic", "urllib3", "botocore", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # MLflow warns at every log_model about cloudpickle and input examples we chose knowingly.
    logging.getLogger("mlflow").setLevel(logging.ERROR)


def main() -> None:
    """Entry point: user errors become one red line and exit code 2, not a traceback."""
    from training.errors import USER_ERRORS

    try:
        app()
    except USER_ERRORS as error:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(2)
