"""Progress bars of the long commands (geo_antt/cli/_progress.py): drawn on stderr when it is a
terminal (a pseudo-terminal here), nothing when it is not, nothing with --quiet.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BAR = "━"  # rich's bar


def _run(args: list[str], *, tty: bool, cwd: Path) -> tuple[int, bytes, bytes]:
    """Run ``python -m geo_antt ARGS``; stderr a pseudo-terminal when ``tty``. Returns
    (exit code, stdout, stderr).
    """
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    env.pop("NO_COLOR", None)
    cmd = [sys.executable, "-m", "geo_antt", *args]
    if not tty:
        p = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, timeout=300, check=False)
        return p.returncode, p.stdout, p.stderr
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        os.close(slave)
        err = b""
        while True:
            r, _, _ = select.select([master], [], [], 1.0)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                err += chunk
            elif p.poll() is not None:
                break
        out = p.stdout.read()
        p.stdout.close()
        return p.wait(timeout=300), out, err
    finally:
        os.close(master)


@pytest.fixture()
def coverage_args(synthetic_dir, tmp_path):
    return [
        "coverage",
        "--data",
        str(synthetic_dir),
        "--out",
        str(tmp_path / "cov.geojson"),
        "--gaps",
        str(tmp_path / "gaps.geojson"),
    ]


def test_coverage_draws_a_bar_on_a_terminal_only(coverage_args, tmp_path):
    rc, out_tty, err = _run(coverage_args, tty=True, cwd=tmp_path)
    assert rc == 0, err
    text = err.decode("utf-8", "replace")
    assert BAR in text and "coverage" in text, text
    # the same standard output either way, and nothing on stderr without a terminal
    rc, out, err = _run(coverage_args, tty=False, cwd=tmp_path)
    assert rc == 0 and err == b"" and BAR.encode() not in out
    assert out.replace(str(tmp_path).encode(), b"") == out_tty.replace(str(tmp_path).encode(), b"")


def test_quiet_silences_the_bar(coverage_args, tmp_path):
    rc, _out, err = _run([*coverage_args, "--quiet"], tty=True, cwd=tmp_path)
    assert rc == 0 and BAR not in err.decode("utf-8", "replace")


def test_seed_import_and_report_bars(synthetic_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    rc, _out, err = _run(["db", "seed", "--data", str(synthetic_dir), "--db", db], tty=True, cwd=tmp_path)
    assert rc == 0 and BAR in err.decode("utf-8", "replace") and "seed" in err.decode("utf-8", "replace")
    models = next((synthetic_dir / "models").iterdir())
    rc, _out, err = _run(["import", str(models), "--db", db, "--commit"], tty=True, cwd=tmp_path)
    assert rc in (0, 1) and "import" in err.decode("utf-8", "replace") and BAR in err.decode("utf-8", "replace")
    rc, _out, err = _run(["import", str(models), "--db", db, "--quiet"], tty=True, cwd=tmp_path)
    assert BAR not in err.decode("utf-8", "replace")
    rc, out, err = _run(
        [
            "report",
            "--data",
            str(synthetic_dir),
            "--unit",
            "28903",
            "--period",
            "2024-01-01:2024-06-30",
            "--out",
            str(tmp_path / "r.xlsx"),
        ],
        tty=True,
        cwd=tmp_path,
    )
    assert rc == 0, err
    assert BAR in err.decode("utf-8", "replace") and b"wrote" in out
    rc, out, err = _run(
        [
            "report",
            "--data",
            str(synthetic_dir),
            "--unit",
            "28903",
            "--period",
            "2024-01-01:2024-06-30",
            "--out",
            str(tmp_path / "r.xlsx"),
        ],
        tty=False,
        cwd=tmp_path,
    )
    assert rc == 0 and err == b""
