"""The console in a real browser: `badbuzz console` as a process with a password, talking to
a real API process, driven through headless Chromium (Debian's `chromium`, `make browser`)
by Playwright (`tests/browser.py`). Every page test logs in first; the login's own test
finds nothing of the console before it. Screenshots go to `test-artifacts/browser/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.support import Api
from tests.browser import artifacts_dir, browser_page
from tests.processes import Server
from tests.ui.support import feedback_rows, serve, start_console

pytestmark = pytest.mark.integration

NEGATIVE = "worst airline ever, lost my bag and cancelled my flight, hate it"
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def artifacts() -> Path:
    return artifacts_dir("browser")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> Iterator[Api]:
    api = serve(tmp_path_factory.mktemp("api"), tiny_bundle, BADBUZZ_ALERT_THRESHOLD="1000")
    yield api
    api.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, api: Api) -> Iterator[Server]:
    server = start_console(api.url, tmp_path_factory.mktemp("console"), password=PASSWORD)
    yield server
    server.stop()


def log_in(page: Page, password: str) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def page(console: Server) -> Iterator[Page]:
    """The console's first page, logged in."""
    with browser_page(console.url) as page:
        log_in(page, PASSWORD)
        expect(page.get_by_role("textbox", name="Tweet")).to_be_visible()
        yield page


def test_nothing_of_the_console_shows_before_the_login(console: Server, artifacts: Path) -> None:
    with browser_page(console.url) as page:
        expect(page.get_by_label("Password", exact=True)).to_be_visible()
        page.screenshot(path=artifacts / "login.png", full_page=True)
        body = page.locator("body")
        for page_name in ("Analyse a tweet", "Score a file", "Alerts"):
            expect(body).not_to_contain_text(page_name)
        expect(page.get_by_role("textbox", name="Tweet")).to_have_count(0)
        expect(page.get_by_role("radiogroup")).to_have_count(0)

        log_in(page, "not-the-password")
        expect(page.get_by_text("Wrong password.")).to_be_visible()
        expect(page.get_by_role("textbox", name="Tweet")).to_have_count(0)
        expect(body).not_to_contain_text("Alerts")

        log_in(page, PASSWORD)
        expect(page.get_by_role("textbox", name="Tweet")).to_be_visible()
        expect(page.get_by_text("Alerts", exact=True)).to_be_visible()  # the page to choose
        expect(page.get_by_label("Password", exact=True)).to_have_count(0)


def test_a_person_analyses_a_tweet_and_says_it_is_wrong(
    page: Page, api: Api, artifacts: Path
) -> None:
    expected = api.client().post("/predict", json={"text": NEGATIVE}).json()
    page.get_by_role("textbox", name="Tweet").fill(NEGATIVE)
    page.get_by_role("button", name="Analyse").click()
    label = expected["label"].capitalize()
    expect(page.get_by_text(label, exact=True)).to_be_visible()
    expect(page.get_by_text(f"Probability positive: {expected['probability_positive']:.2f}"))
    expect(page.get_by_text(f"version {expected['model']['version']}")).to_be_visible()
    page.screenshot(path=artifacts / "analyse.png", full_page=True)

    before = feedback_rows(api)
    right = next(label for label in ("neutral", "positive") if label != expected["label"])
    expect(page.get_by_role("button", name=f"No, {expected['label']}")).to_have_count(0)
    page.get_by_role("button", name=f"No, {right}", exact=True).click()
    expect(page.get_by_text(f"recorded as wrong (it is {right})")).to_be_visible()
    page.screenshot(path=artifacts / "verdict.png", full_page=True)
    [(prediction_id, correct, right_label)] = [
        row for row in feedback_rows(api) if row not in before
    ]
    assert prediction_id is not None and correct is False and right_label == right


def test_a_person_scores_a_csv_and_sees_the_chart(
    page: Page, tmp_path: Path, artifacts: Path
) -> None:
    tweets = [NEGATIVE, "lovely crew, thanks for the upgrade", "delayed again, no info", "ok"]
    csv = tmp_path / "tweets.csv"
    csv.write_text("id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(tweets)))
    page.get_by_text("Score a file", exact=True).click()
    page.locator("input[type=file]").set_input_files(csv)
    page.get_by_role("button", name=f"Score {len(tweets)} tweets").click()
    expect(page.get_by_text("Probability of positive")).to_be_visible()
    chart = page.locator("[data-testid=stVegaLiteChart]")
    expect(chart).to_be_visible()
    metrics = page.locator("[data-testid=stMetricValue]").all_inner_texts()
    assert sum(int(value.replace(",", "")) for value in metrics) == len(tweets)
    page.screenshot(path=artifacts / "score_file.png", full_page=True)
