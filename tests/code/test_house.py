"""The house rule: no function is longer than 80 lines, from its `def` line to its last, so
each reads on a screen. Every .py file of the repository counts, outside .venv and .git."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIPPED = {".git", ".venv"}
MAX_LINES = 80


def python_files() -> Iterator[Path]:
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED)
        yield from (Path(folder) / name for name in sorted(files) if name.endswith(".py"))


def function_lengths(path: Path) -> Iterator[tuple[int, str]]:
    """(lines, "path:line name") of each function and method in `path`, nested ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            where = f"{path.relative_to(REPO)}:{node.lineno} {node.name}"
            yield node.end_lineno - node.lineno + 1, where


def test_no_function_is_longer_than_80_lines() -> None:
    files = list(python_files())
    assert Path(__file__).resolve() in files
    too_long = sorted(
        (
            (lines, where)
            for path in files
            for lines, where in function_lengths(path)
            if lines > MAX_LINES
        ),
        reverse=True,
    )
    assert not too_long, f"functions over {MAX_LINES} lines (split them into named steps):\n" + (
        "\n".join(f"{lines:4d} {where}" for lines, where in too_long)
    )
