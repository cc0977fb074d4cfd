"""A real browser for tests: headless Chromium from Debian (`make browser` installs it),
driven by Playwright with `executable_path` (Playwright downloads no browser here).

    with browser_page(url) as page:
        page.get_by_role("button", name="Analyse").click()

No pytest fixtures here: the console tests and the install tests import it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_MS = 30_000  # longest wait for what a page should show (the console reruns on each click)


def chromium_path() -> str:
    """Debian's chromium, or BADBUZZ_CHROMIUM; the test fails saying how to get one."""
    path = os.environ.get("BADBUZZ_CHROMIUM") or shutil.which("chromium")
    if path is None:
        pytest.fail(
            "no chromium for the browser tests: run `make browser` (apt-get install chromium "
            "on Debian), or point BADBUZZ_CHROMIUM at a Chromium binary"
        )
    return path


def artifacts_dir(name: str) -> Path:
    """Where a test's screenshots go: test-artifacts/NAME (or $BADBUZZ_TEST_ARTIFACTS/NAME)."""
    root = Path(os.environ.get("BADBUZZ_TEST_ARTIFACTS", REPO / "test-artifacts"))
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def browser_page(url: str) -> Iterator[Page]:
    """A fresh headless Chromium tab on `url`; the browser closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            yield page
        finally:
            browser.close()
