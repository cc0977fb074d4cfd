"""What the commands print: results go to stdout as tables that fit an 80-column terminal
(headers on two lines, no cut words); logs go to stderr."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from badbuzz.metric_names import AT_DEFAULT_THRESHOLD, KPI, THRESHOLD_DEPENDENT

if TYPE_CHECKING:
    from training.tracking.runs import TrainedModel

console = Console()
errors = Console(stderr=True, soft_wrap=True)

RESULTS_CAPTION = (
    "test: held-out split; manual: Sentiment140 manual test set. thr: the decision "
    "threshold chosen on validation; figures at it, and at 0.5 where said. acc: accuracy; "
    "pos prec: positive precision (of the tweets called positive, the share that are: the "
    "KPI); s: seconds to train and evaluate."
)


def results_table(results: Sequence[TrainedModel], title: str) -> Table:
    """One row per trained model, best held-out positive precision first: threshold,
    held-out and manual-test figures at it and at 0.5, registered version."""
    # one space between columns (the box's blank divider), no padding: 12 columns in 80
    table = Table(
        title=title, caption=RESULTS_CAPTION, box=box.SIMPLE_HEAD, show_edge=False, padding=0
    )
    for header in ("model", "embedding", "version"):
        table.add_column(header, no_wrap=True)
    numbers = (
        ("thr", lambda r: r.threshold),
        ("test\nacc", lambda r: r.test["accuracy"]),
        ("test\npos\nprec", lambda r: r.test[KPI]),
        ("man.\nacc", lambda r: r.manual["accuracy"]),
        ("man.\npos\nprec", lambda r: r.manual[KPI]),
        ("man.\nacc\n@0.5", lambda r: r.manual[f"accuracy{AT_DEFAULT_THRESHOLD}"]),
        ("man.\npos\nprec\n@0.5", lambda r: r.manual[f"{KPI}{AT_DEFAULT_THRESHOLD}"]),
    )
    for header, _ in numbers:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    for r in sorted(results, key=lambda r: r.test[KPI], reverse=True):
        table.add_row(
            r.name,
            r.embedding_type,
            r.version or "-",
            *(f"{value(r):.3f}" for _, value in numbers),
            f"{r.seconds:.0f}",
        )
    return table


def threshold_table(metrics: Mapping[str, float], threshold: float, title: str) -> Table:
    """Metrics at the decision threshold beside the same at 0.5; then those that do not
    depend on it."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("metric")
    table.add_column(f"at {threshold:.3g}", justify="right")
    table.add_column("at 0.5", justify="right")
    for name in THRESHOLD_DEPENDENT:
        table.add_row(name, f"{metrics[name]:.4f}", f"{metrics[name + AT_DEFAULT_THRESHOLD]:.4f}")
    for name, value in metrics.items():
        if name not in THRESHOLD_DEPENDENT and not name.endswith(AT_DEFAULT_THRESHOLD):
            table.add_row(name, f"{value:.4f}", "")
    return table


def values_table(values: Mapping[str, object], title: str, header: str = "value") -> Table:
    """Names and values, one per row (numbers to 4 decimals)."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("name")
    table.add_column(header, justify="right")
    for name, value in values.items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table


CLIENT_COLUMNS = (
    ("acc", "accuracy"),
    ("pos prec", "positive_precision"),
    ("pos rec", "positive_recall"),
    ("roc auc", "roc_auc"),
    ("neutral->neg", "neutral_called_negative"),
)


def client_table(results: Sequence[TrainedModel], path: str) -> Table:
    """Each model on the client's export (`--eval-data`), at its own threshold."""
    table = Table(
        title=f"On the client's tweets ({path})",
        caption="negative and positive tweets at each model's threshold; neutral->neg: the "
        "share of the neutral tweets called negative",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("model")
    for header, _ in CLIENT_COLUMNS:
        table.add_column(header, justify="right")
    for result in results:
        metrics = result.client or {}
        table.add_row(
            result.name,
            *(f"{metrics.get(name, float('nan')):.3f}" for _, name in CLIENT_COLUMNS),
        )
    return table
