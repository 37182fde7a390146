"""Shared pieces of the browser tests: where Chromium is, its flags, where screenshots go, and
the skip-or-fail rule (a missing browser or missing web assets fail the run under CI=true).
The ``live_server`` and ``browser`` fixtures that use them live in ``tests/conftest.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "login_form", "need", "wait_selected"]

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
    """Skip the test when ``condition`` is false, or fail it under CI=true."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


def wait_selected(page, code: str) -> None:
    """Wait until the panel shows unit ``code`` (a selector wait: no eval under the page's CSP)."""
    page.locator(f"body[data-selected-unit='{code}']").wait_for(state="attached", timeout=5000)


def login_form(page, url: str, *, name: str, password: str) -> None:
    """Open ``url``: the server sends the browser to the login page; fill it in and submit; the
    browser comes back to ``url``."""
    page.goto(url, wait_until="domcontentloaded")
    assert "/login" in page.url, page.url
    page.fill("#name", name)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.url
