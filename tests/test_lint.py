"""The code is linted and formatted: ruff, with the ``[tool.ruff]`` configuration of
pyproject.toml (numpydoc docstrings, import order, pyupgrade, bugbear), reports nothing on the
package, its tests, benchmarks and scripts, and ``ruff format`` would change no file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
