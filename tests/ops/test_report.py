"""The alert and digest reports, as the person who gets the mail (or opens the reports
folder) reads them: built from hand-made contexts, no database, no mail."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from badbuzz.settings import OpsSettings, variables
from ops.report import (
    CHART_OMITTED,
    AlertContext,
    AlertLine,
    DigestContext,
    ErrorRate,
    FlaggedTweet,
    HourCount,
    RetrainLine,
    render_alert,
    render_digest,
    write_report,
)

REPO = Path(__file__).resolve().parents[2]
FIRED_AT = datetime(2024, 5, 1, 12, 3, 7, tzinfo=UTC)
CARD = {
    "name": "tweet-sentiment",
    "version": "4",
    "model_family": "logistic_regression",
    "embedding_type": "tfidf",
    "threshold": 0.55,
    "runtime": "sklearn_pipeline",
}
TWEETS = [
    FlaggedTweet("I love this airline", "negative", 0.123, FIRED_AT - timedelta(minutes=4), "4"),
    FlaggedTweet("lost my bag again", "positive", 0.871, FIRED_AT - timedelta(minutes=2), "4"),
    # Feedback that named the text, not a prediction id: no probability known.
    FlaggedTweet("meh, on time for once", "negative", None, FIRED_AT - timedelta(minutes=1), "3"),
]


def hours() -> list[HourCount]:
    last = FIRED_AT.replace(minute=0, second=0)
    return [
        HourCount(last - timedelta(hours=23 - n), wrong=n % 3, judged=n % 5 + 3) for n in range(24)
    ]


def alert_context(**changes: object) -> AlertContext:
    context = AlertContext(
        alert_id="0b7c1f2e-5d7a-4a3e-9c1d-2f4e6a8b0c1d",
        rule="error_window",
        fired_at=FIRED_AT,
        window_start=FIRED_AT - timedelta(minutes=5),
        window_end=FIRED_AT,
        observed=3,
        threshold=3,
        summary="3 predictions flagged wrong within 5 min (threshold 3)",
        flagged=TWEETS,
        model_card=CARD,
        error_rate_hour=ErrorRate(wrong=3, judged=10, predictions=120),
        error_rate_day=ErrorRate(wrong=7, judged=80, predictions=3456),
        hours=hours(),
    )
    return dataclasses.replace(context, **changes)  # type: ignore[arg-type]


def latency_context() -> AlertContext:
    return alert_context(
        rule="latency",
        observed=500.0,
        threshold=250.0,
        summary="/predict p95 latency over 500 ms across 80 requests (threshold 250 ms)",
        flagged=[],
    )


def digest_context(**changes: object) -> DigestContext:
    context = DigestContext(
        day_start=datetime(2024, 4, 30, tzinfo=UTC),
        day_end=datetime(2024, 5, 1, tzinfo=UTC),
        predictions=1234,
        negative_share=0.42,
        error_rate=ErrorRate(wrong=5, judged=80, predictions=1234),
        alerts=[
            AlertLine(datetime(2024, 4, 30, 9, 15, tzinfo=UTC), "error_window", "3 flagged"),
            AlertLine(datetime(2024, 4, 30, 17, 40, tzinfo=UTC), "latency", "p95 over 500 ms"),
        ],
        model_card=CARD,
        hours=hours(),
    )
    return dataclasses.replace(context, **changes)  # type: ignore[arg-type]


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a PNG must start with."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_error_window_subject_says_what_happened_and_the_model() -> None:
    report = render_alert(alert_context())

    assert report.subject == "[badbuzz] 3 wrong predictions in 5 min (model tweet-sentiment v4)"


@pytest.mark.parametrize("body", ["text", "html"])
def test_error_window_report_lists_every_flagged_tweet(body: str) -> None:
    shown = getattr(render_alert(alert_context()), body)

    # Each tweet with its own label and probability (unknown: n/a), whatever the markup.
    between = r'(?:[\s",]|<[^>]+>|predicted|P\(positive\))*'
    for tweet, probability in zip(TWEETS, ["12.3%", "87.1%", "n/a"], strict=True):
        row = between.join([tweet.text, tweet.predicted_label, re.escape(probability)])
        assert re.search(row, shown), f"no row for {tweet.text!r}"
    assert "2024-05-01T11:59:07Z" in shown  # flagged-at times in UTC, ISO 8601
    assert "2024-05-01T11:58:07Z" in shown and "(5 min)" in shown  # the window
    assert "3 wrong predictions" in shown


@pytest.mark.parametrize("body", ["text", "html"])
def test_alert_report_shows_error_rates_model_card_and_settings(body: str) -> None:
    shown = getattr(render_alert(alert_context()), body)

    assert "3 wrong of 10 judged (30.0%), 120 predictions" in shown  # last hour
    assert "7 wrong of 80 judged (8.8%), 3,456 predictions" in shown  # last day
    for value in ("tweet-sentiment", "logistic_regression", "tfidf", "0.55", "sklearn_pipeline"):
        assert value in shown
    assert "BADBUZZ_ALERT_THRESHOLD" in shown and "BADBUZZ_ALERT_WINDOW_SECONDS" in shown


def test_no_verdicts_is_said_not_divided_by_zero() -> None:
    context = alert_context(error_rate_hour=ErrorRate(wrong=0, judged=0, predictions=1))

    assert "no verdicts, 1 prediction" in render_alert(context).text


def test_naive_times_are_read_as_utc() -> None:
    naive = FIRED_AT.replace(tzinfo=None)
    context = alert_context(window_start=naive - timedelta(minutes=5), window_end=naive)

    assert "2024-05-01T11:58:07Z to 2024-05-01T12:03:07Z" in render_alert(context).text


def test_html_escapes_a_malicious_tweet_and_text_keeps_it_verbatim() -> None:
    tweet = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
    flagged = [dataclasses.replace(TWEETS[0], text=tweet)]

    report = render_alert(alert_context(flagged=flagged))

    assert "<script>" not in report.html and "<img src=x" not in report.html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in report.html
    assert tweet in report.text


def test_latency_report_shows_p95_and_threshold_and_no_tweet_list() -> None:
    report = render_alert(latency_context())

    assert report.subject == (
        "[badbuzz] slow /predict: p95 500 ms, threshold 250 ms (model tweet-sentiment v4)"
    )
    for shown in (report.text, report.html):
        assert "p95 of /predict 500 ms" in shown and "250 ms" in shown
        assert "Flagged tweets" not in shown and "I love this airline" not in shown
        assert "BADBUZZ_LATENCY_P95_MS" in shown


def test_an_unknown_rule_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'drift'"):
        render_alert(alert_context(rule="drift"))


def test_settings_named_in_the_footers_exist() -> None:
    prefix = OpsSettings.model_config["env_prefix"]
    texts = [render_alert(alert_context()).text, render_alert(latency_context()).text]
    named = set(
        re.findall(
            r"\bBADBUZZ_[A-Z0-9_]+", " ".join([*texts, render_digest(digest_context()).text])
        )
    )

    assert named
    settings = {name.removeprefix(prefix).lower() for name in variables(OpsSettings)}
    assert {name.removeprefix(prefix).lower() for name in named} <= settings


def test_chart_is_a_small_png_referenced_inline() -> None:
    report = render_alert(alert_context())

    assert report.chart_png is not None
    assert png_size(report.chart_png) == (600, 240)
    assert 2_000 < len(report.chart_png) < 100_000
    assert '<img src="cid:chart"' in report.html
    assert CHART_OMITTED not in report.text


def test_chart_draws_the_hours_it_is_given() -> None:
    quiet = [HourCount(h.hour, wrong=0, judged=0) for h in hours()]

    busy, empty = render_alert(alert_context()), render_alert(alert_context(hours=quiet))

    assert busy.chart_png != empty.chart_png


def test_digest_shows_the_day_counts_and_alerts() -> None:
    report = render_digest(digest_context())

    assert report.subject == (
        "[badbuzz] digest 2024-04-30: 1,234 predictions, error rate 6.2%, 2 alerts "
        "(model tweet-sentiment v4)"
    )
    for shown in (report.text, report.html):
        assert "1,234" in shown and "42.0%" in shown
        assert "5 wrong of 80 judged (6.2%)" in shown
        assert "2024-04-30T09:15:00Z" in shown and "3 flagged" in shown
        assert "2024-04-30T17:40:00Z" in shown and "p95 over 500 ms" in shown
        assert "logistic_regression" in shown
    assert report.chart_png is not None and png_size(report.chart_png) == (600, 240)


def test_a_quiet_day_says_so() -> None:
    report = render_digest(
        digest_context(predictions=0, negative_share=None, error_rate=ErrorRate(0, 0, 0), alerts=[])
    )

    assert "no verdicts" in report.subject and "0 alerts" in report.subject
    assert "Alerts (0)\n  none" in report.text
    assert "Negative share:  n/a" in report.text


def test_the_digest_shows_the_scheduled_retrains_only_where_one_is_scheduled_or_ran() -> None:
    at = datetime(2024, 4, 30, 3, 0, tzinfo=UTC)
    refused = RetrainLine(at, at + timedelta(minutes=2), "refused", "refused: +0.02", "4", "5")

    unscheduled = render_digest(digest_context())
    quiet = render_digest(digest_context(retrain_cron="0 3 * * *"))
    ran = render_digest(digest_context(retrains=[refused]))

    assert "Scheduled retrain" not in unscheduled.text + unscheduled.html
    assert "BADBUZZ_RETRAIN_CRON" not in unscheduled.text
    assert "Scheduled retrain (0; 0 3 * * * UTC)\n  none" in quiet.text
    assert "BADBUZZ_RETRAIN_CRON" in quiet.text
    line = "version 5 registered, @champion stays on version 4; refused: +0.02"
    assert f"2024-04-30T03:00:00Z  refused: {line}" in ran.text
    assert line.replace(">", "&gt;") in ran.html
    assert "retrain" not in ran.subject  # only a promotion changes what is served


def test_write_report_keeps_every_file_and_points_the_html_at_the_chart(tmp_path: Path) -> None:
    report = render_alert(alert_context())

    folder = write_report(report, tmp_path / "reports" / "alert-1")

    assert folder == tmp_path / "reports" / "alert-1"
    assert sorted(p.name for p in folder.iterdir()) == ["chart.png", "report.html", "report.txt"]
    assert (folder / "report.txt").read_text(encoding="utf-8") == report.text
    assert (folder / "chart.png").read_bytes() == report.chart_png
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert '<img src="chart.png"' in html and "cid:chart" not in html
    assert "I love this airline" in html


def test_write_report_replaces_a_report_and_drops_a_stale_chart(tmp_path: Path) -> None:
    report = render_alert(alert_context())
    write_report(report, tmp_path)
    without_chart = dataclasses.replace(report, text="second", chart_png=None)

    write_report(without_chart, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.txt"]
    assert (tmp_path / "report.txt").read_text(encoding="utf-8") == "second"


# Runs in a fresh interpreter where importing matplotlib fails, as in the TFLite image.
WITHOUT_MATPLOTLIB = """
import importlib.abc, json, sys, tempfile
from pathlib import Path

class NoMatplotlib(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoMatplotlib())

from tests.ops.test_report import alert_context, digest_context
from ops.report import render_alert, render_digest, write_report

alert, digest = render_alert(alert_context()), render_digest(digest_context())
folder = write_report(alert, Path(tempfile.mkdtemp()))
print(json.dumps({
    "charts": [alert.chart_png, digest.chart_png],
    "texts": [alert.text, digest.text],
    "htmls": [alert.html, digest.html],
    "files": sorted(p.name for p in folder.iterdir()),
}))
"""


def test_without_matplotlib_the_chart_is_omitted_and_the_report_says_so() -> None:
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_MATPLOTLIB],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr

    result = json.loads(run.stdout)
    assert result["charts"] == [None, None]
    for shown in result["texts"] + result["htmls"]:
        assert "chart omitted: matplotlib is not installed" in shown
    for html in result["htmls"]:
        assert "cid:chart" not in html
    assert result["files"] == ["report.html", "report.txt"]
