"""The console image's install, without Docker: a venv built from exactly the files and the
extra `compose/ui.Dockerfile` uses serves the console, which a real browser opens and uses
against a real API; and it holds no model runtime, training library or API code."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.api.support import Api
from tests.browser import artifacts_dir, browser_page
from tests.install.serving_venv import CONSOLE_DOCKERFILE, read_recipe, serving_venv
from tests.processes import Server
from tests.ui.support import serve, start_console

pytestmark = pytest.mark.integration

NOT_IN_THE_CONSOLE = ("api", "ops", "training", "fastapi", "sklearn", "mlflow", "ai_edge_litert")


@pytest.fixture(scope="module")
def venv() -> Path:
    return serving_venv(recipe=read_recipe(CONSOLE_DOCKERFILE))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> Iterator[Api]:
    api = serve(tmp_path_factory.mktemp("api"), tiny_bundle)
    yield api
    api.stop()


@pytest.fixture(scope="module")
def console(venv: Path, api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_console(api.url, tmp_path_factory.mktemp("console"), venv / "bin" / "badbuzz")
    yield server
    server.stop()


def test_the_console_image_holds_the_console_only(venv: Path) -> None:
    # -I: not the checkout in the current directory, only what the install holds
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", probe, *NOT_IN_THE_CONSOLE],
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == "[]"


def test_the_installed_console_analyses_a_tweet_in_a_browser(console: Server, api: Api) -> None:
    tweet = "@united lost my bag again, worst airline"
    expected = api.client().post("/predict", json={"text": tweet}).json()
    with browser_page(console.url) as page:
        page.get_by_role("textbox", name="Tweet").fill(tweet)
        page.get_by_role("button", name="Analyse").click()
        expect(page.get_by_text(f"version {expected['model']['version']}")).to_be_visible()
        page.screenshot(path=artifacts_dir("console-install") / "analyse.png")
