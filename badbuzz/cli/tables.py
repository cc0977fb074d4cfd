"""What the commands print: results go to stdout as tables that fit an 80-column terminal
(headers on two lines, no cut words); logs go to stderr."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from training.tracking.runs import TrainedModel

console = Console()
errors = Console(stderr=True, soft_wrap=True)

RESULTS_CAPTION = (
    "test: held-out split; manual: Sentiment140 manual test set. acc: accuracy; "
    "neg prec: precision of the negative class (of the tweets called negative, the share "
    "that are); buzz: buzz score; s: seconds to train and evaluate."
)


def results_table(results: Sequence[TrainedModel], title: str) -> Table:
    """One row per trained model: held-out and manual-test figures, registered version."""
    # one space between columns (the box's blank divider), no padding: 9 columns in 80
    table = Table(
        title=title, caption=RESULTS_CAPTION, box=box.SIMPLE_HEAD, show_edge=False, padding=0
    )
    for header in ("model", "embedding", "version"):
        table.add_column(header, no_wrap=True)
    for set_name in ("test", "manual"):
        table.add_column(f"{set_name}\nacc", justify="right", no_wrap=True)
        table.add_column(f"{set_name}\nneg\nprec", justify="right", no_wrap=True)
        if set_name == "test":
            table.add_column("test\nbuzz", justify="right", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    for r in sorted(results, key=lambda r: r.test["precision"], reverse=True):
        table.add_row(
            r.name,
            r.embedding_type,
            r.version or "-",
            f"{r.test['accuracy']:.3f}",
            f"{r.test['precision']:.3f}",
            f"{r.test['buzz_score']:.3f}",
            f"{r.manual['accuracy']:.3f}",
            f"{r.manual['precision']:.3f}",
            f"{r.seconds:.0f}",
        )
    return table


def values_table(values: Mapping[str, object], title: str, header: str = "value") -> Table:
    """Names and values, one per row (numbers to 4 decimals)."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("name")
    table.add_column(header, justify="right")
    for name, value in values.items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table
