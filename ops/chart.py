"""The reports' charts, as small PNGs: wrong and judged verdicts per hour over the last 24
hours; a brand's tweets per hour around a bad buzz; a back-test's negatives per window.
matplotlib is optional (the TFLite serving image has none), so it is imported only when a
chart is drawn, and only through its object API: pyplot keeps global figures and picks a GUI
backend, neither of which a server process wants."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from matplotlib.figure import Figure

    from ops.buzz import Buzz, ExpectedWindow
    from ops.report import BrandHour, HourCount

WIDTH_PX = 600
HEIGHT_PX = 240
_DPI = 100
_JUDGED_COLOUR = "#c9d3df"
_WRONG_COLOUR = "#d1495b"
MAX_REPLAY_BRANDS = 12  # panels; a file of more brands is charted for its first 12


def _figure(width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX) -> Figure | None:
    """A figure on the Agg canvas, or None where matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as error:
        # Only matplotlib itself may be missing; a broken install of it must not pass quietly.
        if error.name is None or error.name.split(".")[0] != "matplotlib":
            raise
        return None
    figure = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def verdicts_chart(hours: Sequence[HourCount]) -> bytes | None:
    """The chart as PNG bytes, or None where matplotlib is not installed."""
    figure = _figure()
    if figure is None:
        return None
    from matplotlib.ticker import MaxNLocator

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
    return _png(figure)


def buzz_chart(hours: Sequence[BrandHour], start: datetime, end: datetime) -> bytes | None:
    """A brand's tweets and negatives per hour (the last 48), the alert's window shaded."""
    figure = _figure()
    if figure is None:
        return None
    from matplotlib.ticker import MaxNLocator

    axes = figure.add_subplot()
    positions = range(len(hours))
    axes.bar(positions, [h.total for h in hours], color=_JUDGED_COLOUR, label="all tweets")
    axes.bar(positions, [h.negatives for h in hours], color=_WRONG_COLOUR, label="negative")
    _band(axes, list(positions), [h.expected for h in hours], [h.threshold for h in hours])
    inside = [i for i, h in enumerate(hours) if start <= h.hour < end]
    if inside:
        axes.axvspan(inside[0] - 0.5, inside[-1] + 0.5, color="#f6c343", alpha=0.3, lw=0)
    ticks = list(positions)[::6]
    axes.set_xticks(ticks, [f"{hours[i].hour:%d %H}h" for i in ticks], fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(-0.6, max(len(hours), 1) - 0.4)
    axes.set_ylim(bottom=0, top=max([h.total for h in hours] + [1]) * 1.15)
    axes.set_title(
        "Tweets per hour, last 48 h (UTC; expected negatives to alerting level as a band; "
        "alert window shaded)",
        fontsize=8,
    )
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    return _png(figure)


def replay_chart(windows: dict[str, list[ExpectedWindow]], buzzes: Sequence[Buzz]) -> bytes | None:
    """A back-test: per brand, negatives per window over time, the expected negatives and the
    alerting level as a band, each alert marked."""
    brands = sorted(windows)[:MAX_REPLAY_BRANDS]
    figure = _figure(900, 90 + 150 * max(len(brands), 1))
    if figure is None:
        return None
    from matplotlib.dates import date2num

    panels = figure.subplots(max(len(brands), 1), 1, sharex=True, squeeze=False)[:, 0]
    for axes, brand in zip(panels, brands, strict=False):
        counts = windows[brand]
        times = list(date2num([w.count.start for w in counts]))
        axes.plot(times, [w.count.negatives for w in counts], lw=1, color=_WRONG_COLOUR)
        _band(axes, times, [w.expected for w in counts], [w.threshold for w in counts])
        marks = [b for b in buzzes if b.brand == brand]
        axes.plot(
            date2num([b.window_start for b in marks]),
            [b.negatives for b in marks],
            "v",
            ms=8,
            color="black",
        )
        axes.set_ylim(bottom=0)
        axes.tick_params(labelsize=8)
        axes.set_ylabel(brand, fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        axes.xaxis_date()
    panels[0].set_title(
        f"Negatives per window (red), expected to alerting level (band), {len(buzzes)} alerts "
        "marked (UTC)",
        fontsize=9,
    )
    figure.autofmt_xdate()
    return _png(figure)


def _band(
    axes: Any,
    positions: Sequence[float],
    expected: Sequence[float | None],
    top: Sequence[int | None],
) -> None:
    """The expected negatives as a line, up to the alerting level as a band; gaps where the
    detector had no expectation (learning)."""
    low = [float("nan") if e is None else e for e in expected]
    high = [float("nan") if t is None else t for t in top]
    if all(value != value for value in low):  # nothing known: no band
        return
    axes.plot(positions, low, lw=1, color="#2e5c8a", label="expected")
    axes.fill_between(positions, low, high, color="#2e5c8a", alpha=0.15, lw=0, step=None)
