"""Error alerts end to end, with real parts: `badbuzz serve` as a process (one or two, on
SQLite or PostgreSQL) and an SMTP server (aiosmtpd) on loopback receiving the mail."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.support import API_KEY, KEY_HEADER, Api, run_serve, start_api, stop_all
from tests.bundles import write_tiny_sklearn_bundle
from tests.processes import PostgresUnavailable, throwaway_postgres, unavailable
from tests.shared_data import REPO
from tests.smtp import SmtpServer

pytestmark = pytest.mark.integration

TWEETS = [
    "@united lost my bag again, worst airline",
    "three hours on the tarmac and no water",
    "the crew was rude and the seat was broken",
    "cancelled my flight with no notice, never again",
]
MAIL_WAIT_S = 15.0
QUIET_S = 4.0  # how long "no mail" is watched for: several check intervals

Serve = Callable[..., Api]  # (settings, name=..., home=...) -> a started API


@pytest.fixture(scope="module")
def bundle(sentiment140_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_sklearn_bundle(tmp_path_factory.mktemp("alerts") / "bundle")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def alert_settings(bundle: Path, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    return {
        "BADBUZZ_MODEL_BUNDLE": str(bundle),
        "BADBUZZ_API_KEY": API_KEY,
        **smtp.env(),
        "BADBUZZ_ALERT_TO": "oncall@airline.example",
        "BADBUZZ_OUTBOX_MAX_BACKOFF_S": "1",
        **extra,
    }


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start `badbuzz serve` processes with given settings; all stopped at the end."""
    started: list[Api] = []

    def start(settings: Mapping[str, str], name: str = "api", home: str = "home") -> Api:
        api = start_api(tmp_path / home, tmp_path / name, settings, name=name)
        started.append(api)
        return api

    yield start
    stop_all(started)


def flag_wrong(api: Api, text: str) -> None:
    client = api.client()
    predicted = client.post("/predict", json={"text": text})
    assert predicted.status_code == 200, predicted.text
    answer = client.post(
        "/feedback",
        json={"prediction_id": predicted.json()["prediction_id"], "correct": False},
        headers=KEY_HEADER,
    )
    assert answer.status_code == 201, answer.text


def alerts_of(api: Api) -> list[dict[str, Any]]:
    answer = api.client().get("/alerts", headers=KEY_HEADER)
    assert answer.status_code == 200, answer.text
    alerts: list[dict[str, Any]] = answer.json()["alerts"]
    return alerts


def no_more_mail(smtp: SmtpServer, expected: int) -> None:
    time.sleep(QUIET_S)
    assert len(smtp.received) == expected, [r.message["Subject"] for r in smtp.received]


def test_three_wrong_within_the_window_send_one_mail_naming_them(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    api = serve(alert_settings(bundle, smtp))
    for text in TWEETS[:3]:
        flag_wrong(api, text)
    [received] = smtp.wait_for(1, MAIL_WAIT_S)
    body = received.message.get_body(("plain",))
    assert body is not None
    for text in TWEETS[:3]:
        assert text in body.get_content()
    assert received.recipients == ["oncall@airline.example"]
    [alert] = alerts_of(api)
    assert alert["rule"] == "error_window" and alert["observed"] == 3
    assert [t["text"] for t in alert["flagged"]] == TWEETS[:3]
    assert alert["mail"]["sent_at"] is not None
    assert alert["mail"]["state"] == "sent"
    assert alert["mail"]["delivered_to"] == ["oncall@airline.example"]
    folder = Path(str(alert["report_path"]))
    assert {"report.txt", "report.html"} <= {p.name for p in folder.iterdir()}
    no_more_mail(smtp, 1)


def test_three_wrong_spread_over_more_than_the_window_send_nothing(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    api = serve(alert_settings(bundle, smtp, BADBUZZ_ALERT_WINDOW_SECONDS="2"))
    for text in TWEETS[:3]:
        flag_wrong(api, text)
        time.sleep(1.5)
    no_more_mail(smtp, 0)
    assert alerts_of(api) == []


def test_the_cooldown_keeps_a_lasting_problem_to_one_mail(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    api = serve(alert_settings(bundle, smtp, BADBUZZ_ALERT_COOLDOWN_SECONDS="6"))
    for text in TWEETS[:3]:
        flag_wrong(api, text)
    smtp.wait_for(1, MAIL_WAIT_S)
    for text in TWEETS[:3]:  # the problem lasts: within the cooldown, no second mail
        flag_wrong(api, text)
    no_more_mail(smtp, 1)
    time.sleep(3)  # the cooldown is over; those flags are not counted twice
    for text in TWEETS[:3]:
        flag_wrong(api, text)
    smtp.wait_for(2, MAIL_WAIT_S)
    assert len(alerts_of(api)) == 2


def test_a_mail_kept_while_smtp_is_down_is_sent_once_it_is_back(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    api = serve(alert_settings(bundle, smtp))
    smtp.stop()
    for text in TWEETS[:3]:
        flag_wrong(api, text)
    deadline = time.monotonic() + MAIL_WAIT_S
    mail = None
    while time.monotonic() < deadline:
        listed = alerts_of(api)
        mail = listed[0]["mail"] if listed else None
        if mail and mail["attempts"] >= 2:
            break
        time.sleep(0.5)
    assert mail is not None and mail["sent_at"] is None
    assert "nothing accepts connections" in str(mail["last_error"])
    smtp.start()
    smtp.wait_for(1, MAIL_WAIT_S)
    no_more_mail(smtp, 1)
    assert alerts_of(api)[0]["mail"]["sent_at"] is not None


def test_a_recipient_refused_for_good_gets_no_retry_and_alerts_show_the_dead_letter(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    """Issue 19: with one recipient refused with a 550, the other got six copies a minute."""
    smtp.refuse["gone@airline.example"] = "550 5.1.1 no such user"
    to = "oncall@airline.example,gone@airline.example"
    api = serve(alert_settings(bundle, smtp, BADBUZZ_ALERT_TO=to))
    for text in TWEETS[:3]:
        flag_wrong(api, text)
    [received] = smtp.wait_for(1, MAIL_WAIT_S)
    assert received.recipients == ["oncall@airline.example"]
    deadline = time.monotonic() + 5  # the server answered: the outcome is committed next
    while (mail := alerts_of(api)[0]["mail"])["state"] != "dead":
        assert time.monotonic() < deadline, mail
        time.sleep(0.1)
    assert mail["attempts"] == 1 and mail["sent_at"] is None
    assert mail["delivered_to"] == ["oncall@airline.example"]
    assert mail["refused_by"] == ["gone@airline.example"]
    assert "550 5.1.1 no such user" in str(mail["last_error"])
    no_more_mail(smtp, 1)  # backoff is 1 s here: a retry would have come by now
    assert alerts_of(api)[0]["mail"]["attempts"] == 1


def test_a_kill_between_the_second_and_third_flag_loses_nothing(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    settings = alert_settings(bundle, smtp)
    api = serve(settings, name="before-kill")
    for text in TWEETS[:2]:
        flag_wrong(api, text)
    api.kill()  # SIGKILL: no shutdown, the lease is left held
    again = serve(settings, name="after-kill")
    flag_wrong(again, TWEETS[2])
    # the dead holder's lease expires first (10 s), then the rule fires
    try:
        [received] = smtp.wait_for(1, MAIL_WAIT_S + 20)
    except TimeoutError:
        pytest.fail(f"no mail after the restart\n{again.logs()}")
    body = received.message.get_body(("plain",))
    assert body is not None and all(text in body.get_content() for text in TWEETS[:3])
    no_more_mail(smtp, 1)


def test_two_api_processes_on_one_postgresql_send_one_mail(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    try:
        database = throwaway_postgres("badbuzz_alerts")
        url = database.__enter__()
    except PostgresUnavailable as error:
        unavailable(str(error))
    try:
        settings = alert_settings(bundle, smtp, BADBUZZ_DATABASE_URL=url)
        first = serve(settings, name="first", home="home-first")
        second = serve(settings, name="second", home="home-second")
        flag_wrong(first, TWEETS[0])
        flag_wrong(second, TWEETS[1])
        flag_wrong(second, TWEETS[2])
        smtp.wait_for(1, MAIL_WAIT_S)
        no_more_mail(smtp, 1)
        assert len(alerts_of(first)) == len(alerts_of(second)) == 1
        first.stop()
        second.stop()
    finally:
        database.__exit__(None, None, None)


def test_a_slow_model_raises_one_latency_alert(
    smtp: SmtpServer, serve: Serve, tmp_path: Path
) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from badbuzz.text import NormalizationConfig
    from tests.slow_model import Sleep
    from training.export.sklearn_bundle import write_sklearn_bundle

    pipeline = make_pipeline(Sleep(0.15), TfidfVectorizer(), LogisticRegression())
    pipeline.fit([*TWEETS, "thanks for the upgrade", "lovely crew"], [0, 0, 0, 0, 1, 1])
    slow = write_sklearn_bundle(tmp_path / "slow", pipeline, NormalizationConfig(), 0.5, {})
    settings = alert_settings(
        slow,
        smtp,
        PYTHONPATH=str(REPO),  # the server unpickles tests.slow_model.Sleep
        BADBUZZ_LATENCY_P95_MS="100",
        BADBUZZ_LATENCY_MIN_REQUESTS="5",
        BADBUZZ_DYNAMIC_BATCH_MAX="1",
    )
    api = serve(settings)
    client = api.client()
    for text in TWEETS * 2:
        assert client.post("/predict", json={"text": text}).status_code == 200
    [received] = smtp.wait_for(1, MAIL_WAIT_S)
    assert "p95" in str(received.message["Subject"])
    [alert] = alerts_of(api)
    assert alert["rule"] == "latency" and alert["flagged"] == []
    no_more_mail(smtp, 1)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("BADBUZZ_SMTP_SECURITY", "tls", "smtp_security"),
        ("BADBUZZ_SMTP_PORT", "mail", "smtp_port"),
    ],
)
def test_bad_smtp_settings_are_one_clear_line_at_start(
    bundle: Path, tmp_path: Path, setting: str, value: str, named: str
) -> None:
    settings = {"BADBUZZ_MODEL_BUNDLE": str(bundle), setting: value}
    result = run_serve(tmp_path / "home", tmp_path, settings)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert named in line


def test_an_unreachable_smtp_host_leaves_the_api_serving_and_says_why(
    bundle: Path, serve: Serve
) -> None:
    settings = {
        "BADBUZZ_MODEL_BUNDLE": str(bundle),
        "BADBUZZ_API_KEY": API_KEY,
        "BADBUZZ_SMTP_HOST": "no-such-host.invalid",
        "BADBUZZ_ALERT_TO": "oncall@airline.example",
    }
    api = serve(settings)
    for text in TWEETS[:3]:
        flag_wrong(api, text)
    deadline = time.monotonic() + MAIL_WAIT_S
    while time.monotonic() < deadline:
        listed = alerts_of(api)
        if listed and listed[0]["mail"]["attempts"]:
            break
        time.sleep(0.5)
    [alert] = alerts_of(api)
    assert "no-such-host.invalid" in str(alert["mail"]["last_error"])
    assert httpx.get(f"{api.url}/health/ready", timeout=10).status_code == 200


BUZZ_SETTINGS = {
    "BADBUZZ_BRANDS": "@united=United",
    "BADBUZZ_BUZZ_MIN_HISTORY_DAYS": "2",
    "BADBUZZ_BUZZ_MIN_DAILY_TWEETS": "10",
    "BADBUZZ_BUZZ_MIN_NEGATIVES": "5",
    "BADBUZZ_BUZZ_GRACE_SECONDS": "0",
    "BADBUZZ_BUZZ_CHECK_INTERVAL_S": "1",
}
CANDIDATES = [
    "I hate this, worst day ever",
    "so sad and tired, this sucks",
    "love it, thank you so much",
    "happy happy day, great fun",
    "awesome, thanks!",
]


def test_a_pile_up_of_negative_tweets_about_a_brand_sends_one_buzz_mail(
    bundle: Path, smtp: SmtpServer, serve: Serve
) -> None:
    api = serve(alert_settings(bundle, smtp, **BUZZ_SETTINGS))
    client = api.client()
    labels = {t: client.post("/predict", json={"text": t}).json()["label"] for t in CANDIDATES}
    negative = next((t for t, label in labels.items() if label == "negative"), None)
    positive = next((t for t, label in labels.items() if label == "positive"), None)
    if negative is None or positive is None:
        pytest.skip(f"the tiny model gives no clear labels to pick from: {labels}")
    now = datetime.now(UTC)
    history = [  # 3 days of one negative and three positive tweets an hour, by their time
        {"text": f"@united {text}", "created_at": (now - timedelta(hours=h)).isoformat()}
        for h in range(1, 73)
        for text in [negative] + [positive] * 3
    ]
    assert client.post("/predict/batch", json={"tweets": history}).status_code == 200
    time.sleep(3)  # the watch learns the baseline: no buzz in the past days
    assert smtp.received == []

    spike = [{"text": f"@united {negative} {n}"} for n in range(8)]
    assert client.post("/predict/batch", json={"tweets": spike}).status_code == 200

    try:
        [received] = smtp.wait_for(1, MAIL_WAIT_S)
    except TimeoutError:
        pytest.fail(f"no buzz mail\n{api.logs()}")
    assert "bad buzz on United" in str(received.message["Subject"])
    body = received.message.get_body(("plain",))
    assert body is not None and f"{negative} 0" in body.get_content()
    deadline = time.monotonic() + 5  # the server accepted it: sent_at is committed next
    while True:
        params = {"brand": "United", "hours": 1}
        buzz = client.get("/buzz", params=params, headers=KEY_HEADER).json()
        [alert] = buzz["alerts"]
        if alert["mail"]["sent_at"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert alert["negatives"] >= 8 and alert["baseline"] == 1
    assert alert["mail"]["sent_at"] is not None
    assert buzz["brands"][0]["baseline"]["negatives"] == 1
    assert [a["rule"] for a in alerts_of(api)] == ["buzz"]
    no_more_mail(smtp, 1)
