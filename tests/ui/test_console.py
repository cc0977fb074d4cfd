"""The console driven by Streamlit's AppTest against a real API process on loopback.

AppTest cannot upload a file: the file page is given one through the session state its
uploader fills (ui/views/score_file.py), and ui/scoring.py has tests of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.api.support import API_KEY, KEY_HEADER, Api
from tests.processes import free_port
from tests.ui.support import feedback_rows, serve

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "ui" / "app.py"
RUN_TIMEOUT_S = 60
NEGATIVE = "worst airline ever, lost my bag and cancelled my flight, hate it"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> Iterator[Api]:
    # no alert from the wrong verdicts these tests send: the Alerts test has its own API
    api = serve(tmp_path_factory.mktemp("api"), tiny_bundle, BADBUZZ_ALERT_THRESHOLD="1000")
    yield api
    api.stop()


def console(monkeypatch: pytest.MonkeyPatch, url: str, key: str | None = API_KEY) -> AppTest:
    monkeypatch.setenv("BADBUZZ_API_URL", url)
    if key is None:
        monkeypatch.delenv("BADBUZZ_API_KEY", raising=False)
    else:
        monkeypatch.setenv("BADBUZZ_API_KEY", key)
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)
    app.run()
    assert not app.exception, app.exception
    return app


def open_page(app: AppTest, page: str) -> AppTest:
    app.sidebar.radio(key="page").set_value(page).run()
    assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> str:
    """Everything the page wrote, in one string."""
    parts = [
        element.value if isinstance(element.value, str) else str(element.value)
        for kind in ("markdown", "caption", "success", "info", "warning", "error", "text")
        for element in getattr(app, kind)
    ]
    parts += [str(m.label) + " " + str(m.value) for m in app.metric]
    return "\n".join(parts)


def test_analyse_shows_label_probability_and_version_then_records_no(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = console(monkeypatch, api.url)
    app.text_area(key="analyse_text").input(NEGATIVE)
    app.button(key="analyse").click().run()
    assert not app.exception, app.exception
    expected = api.client().post("/predict", json={"text": NEGATIVE}).json()

    prediction = app.session_state["analyse_prediction"]
    shown = texts(app)
    assert expected["label"].capitalize() in shown
    colour = "red" if expected["label"] == "negative" else "green"
    assert f":{colour}[{expected['label'].capitalize()}]" in shown
    [bar] = app.get("progress")
    assert f"{expected['probability_positive']:.2f}" in bar.proto.text
    assert f"version {expected['model']['version']}" in shown

    assert not [b for b in app.button if b.key == f"verdict_{expected['label']}"]
    app.button(key="verdict_neutral").click().run()
    assert not app.exception, app.exception
    assert "recorded as wrong (it is neutral)" in texts(app)
    assert (prediction["prediction_id"], False, "neutral") in feedback_rows(api)

    app.button(key="new_tweet").click().run()
    assert app.text_area(key="analyse_text").value == ""
    assert "analyse_prediction" not in app.session_state
    assert not app.get("progress")


def test_a_refused_key_is_said_and_nothing_is_recorded(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the API stores predictions and has a key: the analysis itself is refused
    before = feedback_rows(api)
    app = console(monkeypatch, api.url, key="not-the-key-0123456789")
    app.text_area(key="analyse_text").input("thanks for the upgrade, love it")
    app.button(key="analyse").click().run()
    assert not app.exception, app.exception
    [error] = app.error
    assert "/predict needs the API key and the API key was refused" in error.value
    assert "BADBUZZ_API_KEY" in error.value
    assert "analyse_prediction" not in app.session_state
    assert feedback_rows(api) == before


def test_score_a_file(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(monkeypatch, api.url)
    open_page(app, "Score a file")
    data = b"id,tweet\n1,love the crew\n2,\n3,three hours on the tarmac. awful\n"
    app.session_state["score_upload"] = ("tweets.csv", data)
    app.run()
    assert app.selectbox(key="score_column").value == "tweet"
    assert "1 empty rows" in texts(app)
    app.button(key="score").click().run()
    assert not app.exception, app.exception

    _, table = app.session_state["score_result"]
    assert sorted(table["row"]) == [1, 3]
    assert table["probability_positive"].is_monotonic_increasing  # most negative first
    counts = {m.label: m.value for m in app.metric}
    negatives = int((table["label"] == "negative").sum())
    assert counts == {"Negative": str(negatives), "Positive": str(2 - negatives)}

    app.multiselect(key="score_labels").set_value(["positive"]).run()
    assert len(app.dataframe[-1].value) == 2 - negatives

    app.selectbox(key="score_column").set_value("id").run()  # numbers are tweets too, but...
    assert "score_result" in app.session_state and not app.metric  # ...not scored yet


def test_a_file_that_is_not_utf8_gets_a_message(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(monkeypatch, api.url)
    open_page(app, "Score a file")
    app.session_state["score_upload"] = ("t.csv", "text\ncafé\n".encode("latin-1"))
    app.run()
    assert not app.exception, app.exception
    [error] = app.error
    assert "not UTF-8" in error.value


def test_model_page_shows_the_card(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    card = api.client().get("/model").json()
    app = open_page(console(monkeypatch, api.url), "Model")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {
        "Family": "logreg",
        "Embedding": "tfidf",
        "Threshold": "0.50",
        "Runtime": card["runtime"],
    }
    assert f"version {card['version']}" in app.subheader[0].value
    assert f"Machine: {card['cpu']['machine']}" in texts(app)


def test_buzz_shows_each_brands_negatives_over_time(
    tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = serve(tmp_path, tiny_bundle, BADBUZZ_BRANDS="@united=United,@AmericanAir=American")
    try:
        now = datetime.now(UTC)
        tweets = [(f"@united {NEGATIVE}", hours) for hours in (1, 2, 3)]
        tweets += [("@AmericanAir lovely crew, thanks for the upgrade", 2)]
        http = api.client()
        for text, hours_ago in tweets:
            sent = {"text": text, "created_at": (now - timedelta(hours=hours_ago)).isoformat()}
            assert http.post("/predict", json=sent).status_code == 200
        app = open_page(console(monkeypatch, api.url), "Buzz")
        [summary] = app.dataframe
        by_brand = summary.value.set_index("brand")
        assert by_brand.loc["United", "tweets"] == 3
        assert by_brand.loc["American", "tweets"] == 1
        [chart] = app.get("vega_lite_chart")  # negatives per brand and window
        assert '"brand"' in chart.proto.spec
        assert "No buzz alert in this period." in texts(app)
    finally:
        api.stop()


def test_alerts_lists_nothing_then_the_alert(
    tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = serve(tmp_path, tiny_bundle, BADBUZZ_ALERT_THRESHOLD="3")
    try:
        app = open_page(console(monkeypatch, api.url), "Alerts")
        assert "No alerts" in app.info[0].value
        http = api.client()
        for text in ("late again", "no legroom", "lost my bag"):
            prediction_id = http.post("/predict", json={"text": text}).json()["prediction_id"]
            flag = {"prediction_id": prediction_id, "correct": False}
            assert http.post("/feedback", json=flag, headers=KEY_HEADER).status_code == 201
        deadline = time.monotonic() + 10
        while not http.get("/alerts", headers=KEY_HEADER).json()["alerts"]:
            assert time.monotonic() < deadline, "no alert 10 s after 3 wrong flags"
            time.sleep(0.2)
        app.run()
        assert not app.exception, app.exception
        [expander] = app.expander
        assert "error_window" in texts(app)
        assert "lost my bag" in str(expander.dataframe[0].value["text"].tolist())
    finally:
        api.stop()


def test_api_down_shows_a_banner_with_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = console(monkeypatch, url)
    [error] = app.error
    assert "not available" in error.value and url in error.value
    assert "BADBUZZ_API_URL" in error.value


def test_a_50000_row_file_is_scored_in_chunks(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(monkeypatch, api.url)
    open_page(app, "Score a file")
    rows = "".join(f"{i},flight {i} was {'great' if i % 2 else 'late'}\n" for i in range(50_000))
    app.session_state["score_upload"] = ("big.csv", f"id,text\n{rows}".encode())
    app.run()
    started = time.monotonic()
    app.button(key="score").click().run(timeout=240)
    assert not app.exception, app.exception
    _, table = app.session_state["score_result"]
    assert len(table) == 50_000 and table["prediction_id"].is_unique
    counts = {m.label: int(m.value.replace(",", "")) for m in app.metric}
    assert counts["Negative"] + counts["Positive"] == 50_000
    print(f"50,000 tweets scored through the page in {time.monotonic() - started:.1f} s")
