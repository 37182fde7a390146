"""The code is linted and formatted: ruff, with the ``[tool.ruff]`` configuration of
pyproject.toml (numpydoc docstrings, import order, pyupgrade, bugbear), reports nothing on the
package, its tests, benchmarks and scripts, and ``ruff format`` would change no file; eslint
reports nothing on the web scripts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_ruff_check_is_clean() -> None:
    out = _ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_ruff_format_changes_nothing() -> None:
    out = _ruff("format", "--no-cache", "--check", ".")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_eslint_is_clean_on_the_web_scripts() -> None:
    """The web scripts pass eslint (pinned in web/package-lock.json; config web/eslint.config.mjs)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("eslint needs node and npm (apt-get install nodejs npm)")
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "eslint.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_the_pre_commit_config_is_valid_and_runs_the_same_checks() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    for tool in ("ruff check", "ruff format", "mypy", "lint-imports", "scripts/eslint.sh"):
        assert tool in text, tool
