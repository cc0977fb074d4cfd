"""Alert, bad-buzz and digest reports, and the list of held alert mails: what they say (the
contexts below), rendered as text and HTML from Jinja2 templates (`ops/templates/`), with a
small PNG chart, and written to a folder so that a box with no mail set up keeps every
report."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ops.chart import buzz_chart, verdicts_chart
from ops.rules import DRIFT, ERROR_WINDOW, LATENCY


@dataclass(frozen=True)
class FlaggedTweet:
    """A prediction a user said was wrong."""

    text: str
    predicted_label: str
    probability_positive: float | None  # None when the feedback named the text, not an id
    flagged_at: datetime
    model_version: str | None


@dataclass(frozen=True)
class ErrorRate:
    """User verdicts over a period: how many said wrong, of how many given."""

    wrong: int
    judged: int
    predictions: int

    @property
    def rate(self) -> float | None:
        return self.wrong / self.judged if self.judged else None


@dataclass(frozen=True)
class HourCount:
    """One bar of the chart: verdicts in the hour starting at `hour`."""

    hour: datetime
    wrong: int
    judged: int


@dataclass(frozen=True)
class AlertContext:
    alert_id: str
    rule: str  # "error_window", "latency" or "drift" (a buzz has its own context)
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    observed: float  # wrong predictions in the window, p95 latency in ms, or a drift PSI or z
    threshold: float
    summary: str  # one line: what happened
    flagged: list[FlaggedTweet]  # the feedback rows that caused it (empty for latency)
    model_card: dict[str, Any]  # name, version, model_family, embedding_type, threshold, ...
    error_rate_hour: ErrorRate
    error_rate_day: ErrorRate
    hours: list[HourCount]  # the last 24 hours, oldest first: the chart


@dataclass(frozen=True)
class AlertLine:
    fired_at: datetime
    rule: str
    summary: str


@dataclass(frozen=True)
class RetrainLine:
    """A scheduled retrain's run (ops/scheduled_retrain.py)."""

    started_at: datetime
    finished_at: datetime | None  # None while it runs
    outcome: str  # running, skipped, promoted, refused or failed
    reason: str | None
    champion_version: str | None
    new_version: str | None  # the challenger it registered


@dataclass(frozen=True)
class DigestContext:
    day_start: datetime
    day_end: datetime
    predictions: int
    negative_share: float | None
    error_rate: ErrorRate
    alerts: list[AlertLine]
    model_card: dict[str, Any]
    hours: list[HourCount]
    retrains: list[RetrainLine] = field(default_factory=list)  # the day's scheduled retrains
    retrain_cron: str | None = None  # BADBUZZ_RETRAIN_CRON: the section shows when set


@dataclass(frozen=True)
class BuzzTweet:
    """A negative tweet of the buzz window, most confident first."""

    text: str
    probability_positive: float
    tweeted_at: datetime


@dataclass(frozen=True)
class TermGrowth:
    """A word or hashtag of the window's negative tweets against the brand's day before."""

    term: str
    window: int  # negative tweets of the window holding it
    usual: float  # the same per window over the day before


@dataclass(frozen=True)
class BrandHour:
    """One bar of the buzz chart: a brand's tweets in the hour starting at `hour`."""

    hour: datetime
    negatives: int
    total: int
    expected: float | None = None  # negatives the detector expected (None: not known)
    threshold: int | None = None  # negatives that alert on volume


@dataclass(frozen=True)
class BuzzContext:
    alert_id: str
    brand: str
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    negatives: int
    total: int
    expected: float  # negatives expected in the window at this time of day
    threshold: int
    baseline_share: float
    baseline_days: int
    span_negatives: int  # negatives of the last span_hours, the window included
    span_expected: float
    span_hours: float
    reason: str  # volume, pile-up or share
    summary: str
    tweets: list[BuzzTweet]  # the most confident negatives of the window
    terms: list[TermGrowth]  # the words and hashtags that grew most
    model_card: dict[str, Any]
    hours: list[BrandHour]  # the last 48 hours, oldest first: the chart

    @property
    def share(self) -> float:
        return self.negatives / self.total if self.total else 0.0


@dataclass(frozen=True)
class HeldAlert:
    """An alert whose mail the hourly cap held back: a line of the summary mail."""

    fired_at: datetime | None  # None only if its alert row is gone
    rule: str | None
    brand: str | None
    window_start: datetime | None
    window_end: datetime | None
    summary: str  # the alert's one line (its mail's subject without the alert row)
    report_path: str | None  # the folder its report was written to


@dataclass(frozen=True)
class HeldContext:
    """The mail that lists the alert mails the cap held back (`ops.mail_cap`)."""

    alerts: list[HeldAlert]  # oldest first
    mails_per_hour: int


@dataclass(frozen=True)
class RenderedReport:
    subject: str
    text: str
    html: str
    chart_png: bytes | None  # None where matplotlib is not installed (the TFLite image)


CHART_CONTENT_ID = "chart"  # the mailer attaches the PNG inline under this Content-ID
CHART_FILE = "chart.png"
CHART_OMITTED = "chart omitted: matplotlib is not installed"

# The settings behind each report, named as the environment variables that set them.
_ALERT_SETTINGS = {
    ERROR_WINDOW: (
        "BADBUZZ_ALERT_THRESHOLD",
        "BADBUZZ_ALERT_WINDOW_SECONDS",
        "BADBUZZ_ALERT_COOLDOWN_SECONDS",
        "BADBUZZ_ALERT_TO",
    ),
    LATENCY: (
        "BADBUZZ_LATENCY_P95_MS",
        "BADBUZZ_LATENCY_WINDOW_SECONDS",
        "BADBUZZ_LATENCY_MIN_REQUESTS",
        "BADBUZZ_ALERT_COOLDOWN_SECONDS",
        "BADBUZZ_ALERT_TO",
    ),
    DRIFT: (
        "BADBUZZ_DRIFT_WINDOW_SECONDS",
        "BADBUZZ_DRIFT_MIN_PREDICTIONS",
        "BADBUZZ_DRIFT_PSI",
        "BADBUZZ_DRIFT_Z",
        "BADBUZZ_DRIFT_EPSILON",
        "BADBUZZ_DRIFT_COOLDOWN_SECONDS",
        "BADBUZZ_DRIFT_CHECK_INTERVAL_S",
        "BADBUZZ_ALERT_TO",
    ),
}
_DIGEST_SETTINGS = ("BADBUZZ_DIGEST_HOUR_UTC", "BADBUZZ_ALERT_TO")
_RETRAIN_SETTINGS = (
    "BADBUZZ_RETRAIN_CRON",
    "BADBUZZ_RETRAIN_MIN_NEW_VERDICTS",
    "BADBUZZ_RETRAIN_TIMEOUT_S",
)
_BUZZ_SETTINGS = (
    "BADBUZZ_BRANDS",
    "BADBUZZ_BUZZ_WINDOW_SECONDS",
    "BADBUZZ_BUZZ_BASELINE_WINDOWS",
    "BADBUZZ_BUZZ_MIN_HISTORY_DAYS",
    "BADBUZZ_BUZZ_MIN_NEGATIVES",
    "BADBUZZ_BUZZ_Z",
    "BADBUZZ_BUZZ_MIN_RATIO",
    "BADBUZZ_BUZZ_LONG_WINDOWS",
    "BADBUZZ_BUZZ_MIN_SHARE_RISE",
    "BADBUZZ_BUZZ_COOLDOWN_SECONDS",
    "BADBUZZ_ALERT_TO",
)
_HELD_SETTINGS = ("BADBUZZ_ALERT_MAILS_PER_HOUR", "BADBUZZ_ALERT_TO")
_VERDICTS_CHART = (
    "Verdicts per hour, last 24 hours",
    "wrong vs judged verdicts per hour over the last 24 hours",
)

# Model card keys shown first, in this order, with these labels; other keys follow as named.
_CARD_LABELS = {
    "name": "Name",
    "version": "Version",
    "model_family": "Family",
    "embedding_type": "Embedding",
    "threshold": "Decision threshold",
    "runtime": "Runtime",
}


def render_alert(context: AlertContext) -> RenderedReport:
    """An alert as a mail would carry it: subject, text and HTML bodies, the chart."""
    if context.rule == ERROR_WINDOW:
        wrong = round(context.observed)
        length = _duration(context.window_end - context.window_start)
        headline = f"{_plural(wrong, 'wrong prediction')} in {length}"
        observed = _plural(wrong, "wrong prediction")
        threshold = f"{context.threshold:g}"
    elif context.rule == LATENCY:
        observed = f"p95 of /predict {context.observed:,.0f} ms"
        threshold = f"{context.threshold:,.0f} ms"
        headline = f"slow /predict: p95 {context.observed:,.0f} ms, threshold {threshold}"
    else:
        raise ValueError(
            f"no report for alert rule {context.rule!r}: expected {ERROR_WINDOW!r} or {LATENCY!r}"
        )
    return _render_alert(context, headline, observed, threshold)


def render_drift(context: AlertContext) -> RenderedReport:
    """A drift alert (`ops.rules.DriftRule`): the alert report with the window's PSI; its
    summary holds the negative share against validation and its z."""
    if context.rule != DRIFT:
        raise ValueError(f"not a drift alert: {context.rule!r}")
    observed = f"PSI {context.observed:.3f} (negative share: see above)"
    threshold = f"PSI {context.threshold:g}, or the negative share's |z| of BADBUZZ_DRIFT_Z"
    headline = f"model drift: PSI {context.observed:.2f} of the scores against validation"
    return _render_alert(context, headline, observed, threshold)


def _render_alert(
    context: AlertContext, headline: str, observed: str, threshold: str
) -> RenderedReport:
    chart = verdicts_chart(context.hours)
    values = {
        "context": context,
        "subject": f"[badbuzz] {headline} ({_model_label(context.model_card)})",
        "observed": observed,
        "threshold": threshold,
        "card": _card_rows(context.model_card),
        "chart": chart is not None,
        "settings": _ALERT_SETTINGS[context.rule],
    }
    return _render("alert", values, chart, _VERDICTS_CHART)


def render_digest(context: DigestContext) -> RenderedReport:
    """The daily digest: the day's predictions and verdicts, its alerts, the model."""
    day = _utc(context.day_start).date().isoformat()
    alerts = _plural(len(context.alerts), "alert")
    rate = context.error_rate.rate
    error_rate = "no verdicts" if rate is None else f"error rate {rate:.1%}"
    headline = f"digest {day}: {context.predictions:,} predictions, {error_rate}, {alerts}"
    promoted = [run.new_version for run in context.retrains if run.outcome == "promoted"]
    if promoted:
        headline += f", retrain promoted version {promoted[-1]}"
    chart = verdicts_chart(context.hours)
    show_retrains = bool(context.retrain_cron or context.retrains)
    values = {
        "context": context,
        "subject": f"[badbuzz] {headline} ({_model_label(context.model_card)})",
        "day": day,
        "card": _card_rows(context.model_card),
        "chart": chart is not None,
        "show_retrains": show_retrains,
        "retrains": [
            (run.started_at, run.outcome, _retrain_detail(run)) for run in context.retrains
        ],
        "settings": _DIGEST_SETTINGS + (_RETRAIN_SETTINGS if show_retrains else ()),
    }
    return _render("digest", values, chart, _VERDICTS_CHART)


def _retrain_detail(run: RetrainLine) -> str:
    """What a scheduled retrain did, in a line: the versions it moved or left, then why."""
    reason = run.reason or ""
    if run.outcome == "promoted":
        return f"@champion -> version {run.new_version} (was {run.champion_version}); {reason}"
    if run.outcome == "refused" and run.new_version:
        return (
            f"version {run.new_version} registered, @champion stays on version "
            f"{run.champion_version}; {reason}"
        )
    if run.outcome == "running":
        return "still running"
    return reason


def render_buzz(context: BuzzContext) -> RenderedReport:
    """A bad buzz: the brand's window against its baseline, the tweets and words behind it,
    its last 48 hours."""
    headline = (
        f"bad buzz on {context.brand}: {_plural(context.negatives, 'negative tweet')} in "
        f"{_duration(context.window_end - context.window_start)}, about "
        f"{context.expected:.0f} expected"
    )
    chart = buzz_chart(context.hours, context.window_start, context.window_end)
    values = {
        "context": context,
        "subject": f"[badbuzz] {headline} ({_model_label(context.model_card)})",
        "card": _card_rows(context.model_card),
        "chart": chart is not None,
        "settings": _BUZZ_SETTINGS,
    }
    caption = (
        f"Tweets about {context.brand} per hour, last 48 hours",
        f"negative vs all tweets about {context.brand} per hour over the last 48 hours, "
        "the negatives expected and the alerting level as a band, the alert's window shaded",
    )
    return _render("buzz", values, chart, caption)


def render_held(context: HeldContext) -> RenderedReport:
    """The summary of held alert mails: one line per alert and where its report is. No
    chart and no model card: each report has its own."""
    held = _plural(len(context.alerts), "alert mail")
    subject = f"[badbuzz] {held} held back by the hourly cap of {context.mails_per_hour}: the list"
    values = {"context": context, "subject": subject, "settings": _HELD_SETTINGS}
    environment = _environment()
    return RenderedReport(
        subject=subject,
        text=environment.get_template("held.txt.j2").render(values),
        html=environment.get_template("held.html.j2").render(values),
        chart_png=None,
    )


def write_report(rendered: RenderedReport, folder: Path) -> Path:
    """Write report.txt, report.html (its chart read from chart.png beside it) and chart.png
    into `folder`, each file whole or not at all; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    # The chart goes first, so the HTML never points at a file not there yet.
    if rendered.chart_png is None:
        (folder / CHART_FILE).unlink(missing_ok=True)
    else:
        _write_atomically(folder / CHART_FILE, rendered.chart_png)
    _write_atomically(folder / "report.txt", rendered.text.encode())
    html = rendered.html.replace(f'src="cid:{CHART_CONTENT_ID}"', f'src="{CHART_FILE}"')
    _write_atomically(folder / "report.html", html.encode())
    return folder


def _render(
    name: str, values: dict[str, Any], chart: bytes | None, caption: tuple[str, str]
) -> RenderedReport:
    environment = _environment()
    values = values | {
        "chart_title": caption[0],
        "chart_alt": caption[1],
        "chart_src": f"cid:{CHART_CONTENT_ID}",
        "chart_file": CHART_FILE,
        "chart_omitted": CHART_OMITTED,
    }
    return RenderedReport(
        subject=values["subject"],
        text=environment.get_template(f"{name}.txt.j2").render(values),
        html=environment.get_template(f"{name}.html.j2").render(values),
        chart_png=chart,
    )


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("ops", "templates"),
        # Tweets are user text: HTML escapes everything; the text bodies are sent as is.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters |= {
        "utc": _iso_utc,
        "percent": _percent,
        "error_rate": _error_rate,
        "duration": _duration,
        "number": "{:,}".format,
    }
    return environment


def _utc(moment: datetime) -> datetime:
    # The database stores UTC; SQLite hands it back naive.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso_utc(moment: datetime) -> str:
    return f"{_utc(moment):%Y-%m-%dT%H:%M:%SZ}"


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _error_rate(rate: ErrorRate) -> str:
    predictions = _plural(rate.predictions, "prediction")
    if rate.rate is None:
        return f"no verdicts, {predictions}"
    return f"{rate.wrong:,} wrong of {rate.judged:,} judged ({rate.rate:.1%}), {predictions}"


def _duration(length: timedelta) -> str:
    seconds = length.total_seconds()
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{round(seconds / 60, 1):g} min"
    return f"{round(seconds / 3600, 1):g} h"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _model_label(card: dict[str, Any]) -> str:
    name = card.get("name") or "unknown"
    version = card.get("version")
    if version is None:
        return f"model {name}"
    return f"model {name} v{version}" if str(version).isdigit() else f"model {name} {version}"


def _card_rows(card: dict[str, Any]) -> list[tuple[str, str]]:
    keys = [key for key in _CARD_LABELS if key in card]
    keys += sorted(key for key in card if key not in _CARD_LABELS)
    return [(_CARD_LABELS.get(key, key), _card_value(card[key])) for key in keys]


def _card_value(value: object) -> str:
    if value is None:
        return "unknown"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (and a crash) see the old file or the new one, never half of one."""
    # Not mkstemp: its files are private (0600); a report is as readable as the folder allows.
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
