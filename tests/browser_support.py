"""Shared pieces of the browser tests: where Chromium is, its flags, where screenshots go, and
the project's one skip-or-fail rule, :func:`need` (a missing browser, web assets, real data or
PostGIS skips a test on a developer's machine and fails it under CI=true).
The ``live_server`` and ``browser`` fixtures that use them live in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "login_form", "need", "wait_selected", "watched_page"]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need(condition: bool, why: str) -> None:
    """Skip the test when ``condition`` is false, or fail it under CI=true (CI installs
    everything, so there a missing prerequisite is a failure, never a silent skip).
    """
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


def wait_selected(page, code: str) -> None:
    """Wait until the panel shows unit ``code`` (a selector wait: no eval under the page's CSP)."""
    page.locator(f"body[data-selected-unit='{code}']").wait_for(state="attached", timeout=5000)


def login_form(page, url: str, *, name: str, password: str) -> None:
    """Open ``url``: the server sends the browser to the login page; fill it in and submit; the
    browser comes back to ``url``.
    """
    page.goto(url, wait_until="domcontentloaded")
    assert "/login" in page.url, page.url
    page.fill("#name", name)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.url


def watched_page(browser, *, console: bool = True, ignore: str | None = None, **context):
    """A page in a new browser context (``context``: Playwright's ``new_context`` options), with
    the URLs it requests and the errors it raises: page errors, and console errors unless
    ``console`` is false (messages containing ``ignore`` left out).

    Returns
    -------
    (context, page, requests, errors)
    """
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    if console:
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" and not (ignore and ignore in m.text) else None,
        )
    return ctx, page, requests, errors
