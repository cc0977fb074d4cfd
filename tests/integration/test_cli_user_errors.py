"""A bad data path or file is a user error: exit code 2, one line on stderr naming the file
(and the line for a malformed row), no traceback."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import Cli

pytestmark = pytest.mark.integration

MISSING = "/nonexistent.csv"
THREE_COLUMNS = '"0","1","neither six columns"\n"4","2","nor a tweet"\n'


@dataclass(frozen=True)
class Failure:
    path: str
    result: subprocess.CompletedProcess[str]
    cli: Cli

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.result.stderr.splitlines() if line.startswith("error:")]

    @property
    def message(self) -> str:
        """The error message from its `error:` line to the end, with all whitespace removed
        (so that a wrapped path still reads whole)."""
        lines = self.result.stderr.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("error:")]
        return "".join("".join(lines[starts[0] :]).split()) if starts else ""


def _malformed(tmp: Path) -> Path:
    path = tmp / "three_columns.csv"
    path.write_text(THREE_COLUMNS)
    return path


@pytest.fixture(scope="module")
def failures(sentiment140: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Failure]:
    """Each bad invocation run once; the tests below look at different sides of it."""
    tmp = tmp_path_factory.mktemp("cli-errors")
    cli = Cli(tmp / "home", sentiment140)
    manual = str(sentiment140 / "testdata.manual.2009.06.14.csv")
    malformed = str(_malformed(tmp))
    alone = tmp / "alone"
    alone.mkdir()
    malformed_alone = str(_malformed(alone))
    cases = {
        "missing": (MISSING, ["--data", MISSING]),
        "malformed": (malformed, ["--data", malformed, "--manual", manual]),
        "malformed-without-manual": (malformed_alone, ["--data", malformed_alone]),
    }
    return {
        name: Failure(path, cli("train", "baseline", "--models", "nb", *args), cli)
        for name, (path, args) in cases.items()
    }


@pytest.mark.parametrize("case", ["missing", "malformed", "malformed-without-manual"])
def test_exit_code_2_without_traceback(failures: dict[str, Failure], case: str) -> None:
    failure = failures[case]
    assert failure.result.returncode == 2, failure.cli.explain(failure.result)
    assert "Traceback" not in failure.result.stderr + failure.result.stdout
    assert len(failure.error_lines) == 1, failure.result.stderr


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "malformed",
        "malformed-without-manual",
    ],
)
def test_message_names_the_file(failures: dict[str, Failure], case: str) -> None:
    failure = failures[case]
    assert failure.path in failure.message, failure.result.stderr
    if case != "missing":
        assert "line1:" in failure.message, failure.result.stderr


def test_message_is_one_line(failures: dict[str, Failure]) -> None:
    failure = failures["malformed"]
    lines = failure.result.stderr.rstrip("\n").splitlines()
    assert lines[-1].startswith("error:"), failure.result.stderr
    assert failure.path in lines[-1] and "line 1" in lines[-1], failure.result.stderr
