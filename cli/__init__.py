"""The `badbuzz` command: one group per stage of the model's life, a module per group.

Importing this module imports no heavy library (no scikit-learn, pandas, MLflow, TensorFlow,
torch or web framework): each command imports what it needs when it runs, so `--help`
answers at once and the serving image, which has only what serving needs, runs it too.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.logging import RichHandler
from rich.markup import escape

from badbuzz.errors import UserError
from cli import (
    alerts,
    buzz,
    console,
    data,
    doctor,
    keys,
    registry,
    retrain,
    score,
    serve,
    train,
    tune,
)
from cli.tables import errors

app = typer.Typer(
    help="badbuzz: train, track, promote and serve tweet-sentiment models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstrings' line breaks are not paragraph breaks
)
app.add_typer(data.app, name="data")
app.add_typer(train.app, name="train")
app.add_typer(tune.app)
app.add_typer(registry.app)
app.add_typer(retrain.app)
app.add_typer(score.app)
app.add_typer(serve.app)
app.add_typer(console.app)
app.add_typer(alerts.app, name="alerts")
app.add_typer(buzz.app, name="buzz")
app.add_typer(doctor.app)
app.add_typer(keys.app, name="keys")


@app.callback()
def configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Logs go to stderr with rich formatting; results go to stdout."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=errors, show_path=False)],
    )
    # APScheduler logs every run of every job (the alert jobs run each second) at INFO.
    for noisy in ("alembic", "urllib3", "botocore", "matplotlib", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # MLflow warns at every log_model about cloudpickle and input examples we chose knowingly.
    logging.getLogger("mlflow").setLevel(logging.ERROR)


# The install extra a command needs (the others: `train`), and the extras of the libraries
# only some runs of a command import.
EXTRA_OF_COMMAND = {
    "serve": "api",
    "console": "ui",
    "promote": "registry",
    "export": "registry",
    "buzz": "api",
}
EXTRA_OF_MODULE = {
    "tensorflow": "deep",
    "keras": "deep",
    "gensim": "deep",
    "optuna": "deep",
    "torch": "transformer",
    "transformers": "transformer",
    "simplemma": "lemma",
    "pyspark": "spark",
    "streamlit": "ui",
}


def missing_extra(module: str, argv: list[str]) -> str:
    command = next((arg for arg in argv if not arg.startswith("-")), "")
    return EXTRA_OF_MODULE.get(module) or EXTRA_OF_COMMAND.get(command, "train")


def main() -> None:
    """Entry point: an error the user can fix is one red line and its exit code (see
    `badbuzz.errors`), never a traceback."""
    try:
        app()
    except UserError as error:
        errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        sys.exit(error.exit_code)
    except ValidationError as error:  # a setting read from the environment or .env
        # only the messages: the input itself may be a secret
        from badbuzz.settings import setting_name

        for problem in error.errors():
            message = problem["msg"].removeprefix("Value error, ")
            name = setting_name(problem["loc"]).split(".")[0]  # the variable, not an item of it
            if name and not message.startswith("BADBUZZ_"):
                message = f"BADBUZZ_{name.upper()}: {message}"
            errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        sys.exit(2)
    except ModuleNotFoundError as error:  # e.g. a training command in the serving image
        module = (error.name or "?").split(".")[0]
        extra = missing_extra(module, sys.argv[1:])
        message = (
            f"this command needs {module!r}, which is not installed here (an install has "
            f"only what its extras bring): install badbuzz[{extra}]"
        )
        errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        sys.exit(2)
