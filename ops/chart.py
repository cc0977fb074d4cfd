"""The reports' chart: wrong and judged verdicts per hour over the last 24 hours, as a small
PNG. matplotlib is optional (the TFLite serving image has none), so it is imported only when
a chart is drawn, and only through its object API: pyplot keeps global figures and picks a
GUI backend, neither of which a server process wants."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops.report import HourCount

WIDTH_PX = 600
HEIGHT_PX = 240
_DPI = 100
_JUDGED_COLOUR = "#c9d3df"
_WRONG_COLOUR = "#d1495b"


def verdicts_chart(hours: Sequence[HourCount]) -> bytes | None:
    """The chart as PNG bytes, or None where matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ModuleNotFoundError as error:
        # Only matplotlib itself may be missing; a broken install of it must not pass quietly.
        if error.name is None or error.name.split(".")[0] != "matplotlib":
            raise
        return None

    figure = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(hours))
    axes.bar(positions, [h.judged for h in hours], color=_JUDGED_COLOUR, label="judged")
    axes.bar(positions, [h.wrong for h in hours], color=_WRONG_COLOUR, label="wrong")
    # Every third hour is labelled: 24 labels do not fit in 600 px.
    ticks = list(positions)[::3]
    axes.set_xticks(ticks, [f"{hours[i].hour:%H}:00" for i in ticks], fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # verdicts come whole
    axes.set_xlim(-0.6, max(len(hours), 1) - 0.4)
    axes.set_ylim(bottom=0, top=max([h.judged for h in hours] + [1]) * 1.15)
    axes.set_title("User verdicts per hour, last 24 h (UTC)", fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()
