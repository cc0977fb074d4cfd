"""The console's own login, driven by Streamlit's AppTest: no page, no API call before it.

The API here is a closed port: a page drawn after the login shows the "API is not available"
banner, which says the login let the run through. The browser test logs in to a real API.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.badbuzz_cli import run_badbuzz
from tests.processes import free_port

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "ui" / "app.py"
PASSWORD = "correct-horse-battery"
NO_API = "The API is not available"


def console(monkeypatch: pytest.MonkeyPatch, **settings: str) -> AppTest:
    for name in ("ENVIRONMENT", "CONSOLE_PASSWORD", "CONSOLE_LOGIN", "API_KEY"):
        monkeypatch.delenv(f"BADBUZZ_{name}", raising=False)
    monkeypatch.setenv("BADBUZZ_API_URL", f"http://127.0.0.1:{free_port()}")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def shown(app: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "error") for e in getattr(app, kind))


def log_in(app: AppTest, password: str) -> AppTest:
    app.text_input(key="login_password").input(password)
    [submit] = [button for button in app.button if button.label == "Log in"]
    submit.click().run()
    assert not app.exception, app.exception
    return app


def assert_no_page(app: AppTest) -> None:
    assert len(app.sidebar.radio) == 0  # no page to choose: no alerts, no analyse form
    assert len(app.text_area) == 0
    assert NO_API not in shown(app)  # the API is not even asked


def test_with_a_password_nothing_shows_before_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(monkeypatch, BADBUZZ_CONSOLE_PASSWORD=PASSWORD)
    assert app.text_input(key="login_password").label == "Password"
    assert_no_page(app)


@pytest.mark.parametrize("wrong", ["", "correct-horse", PASSWORD + " ", PASSWORD.upper()])
def test_a_wrong_password_shows_no_page(monkeypatch: pytest.MonkeyPatch, wrong: str) -> None:
    app = log_in(console(monkeypatch, BADBUZZ_CONSOLE_PASSWORD=PASSWORD), wrong)
    assert "Wrong password." in shown(app)
    assert_no_page(app)


def test_the_password_opens_the_pages_until_log_out(monkeypatch: pytest.MonkeyPatch) -> None:
    app = log_in(console(monkeypatch, BADBUZZ_CONSOLE_PASSWORD=PASSWORD), PASSWORD)
    assert app.sidebar.radio(key="page").value == "Analyse a tweet"
    assert NO_API in shown(app)
    assert "login_password" not in app.session_state  # the typed password is not kept
    app.sidebar.button(key="logout").click().run()
    assert_no_page(app)
    assert app.text_input(key="login_password").label == "Password"


def test_without_a_password_development_has_no_login(monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(monkeypatch)
    assert len(app.text_input) == 0
    assert app.sidebar.radio(key="page").value == "Analyse a tweet"
    assert NO_API in shown(app)


def test_production_without_a_password_shows_only_why(monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(monkeypatch, BADBUZZ_ENVIRONMENT="production")
    assert "The console cannot start" in shown(app)
    assert "BADBUZZ_CONSOLE_PASSWORD" in shown(app)
    assert_no_page(app)
    assert len(app.text_input) == 0


def test_badbuzz_console_refuses_production_without_a_login(tmp_path: Path) -> None:
    done = run_badbuzz(
        "console",
        "--port",
        str(free_port()),
        home=tmp_path,
        env={"BADBUZZ_ENVIRONMENT": "production"},
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode != 0
    assert "the console cannot start: " in done.stderr
    assert "set BADBUZZ_CONSOLE_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr
