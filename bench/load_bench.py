"""Load on the web service: requests per second, latency and memory under a real load generator.

Seeds a temporary SQLite store from the embedded demo (``data/``), makes an admin and an officer
of one commune with API tokens, starts ``geo-antt serve`` (Waitress, ``--threads``) on a loopback
port, and drives it with ``wrk`` (Debian package ``wrk``; 2 threads, 16 connections) for each
target in turn:

- ``commune-cameras``: the officer's token on ``/collections/camera/items`` of its commune;
- ``all-cameras``: the admin's token on every camera;
- ``map-page``: the admin's token on the map page ``/``.

Prints, per target, req/s, p50/p99 latency (ms), the non-2xx/3xx responses and socket errors, and
the server's resident memory (RSS, MB) before and after; with ``--soak S`` it then drives the
commune's items for S seconds and prints RSS every minute. Floors (issue #13, 2 cores): commune
items >= 300 req/s with p99 < 100 ms at 16 connections, the map page >= 100 req/s, no errors,
RSS flat over a 10-minute soak (``--soak 600``). A benchmark, not a test: it only prints.

Usage: python bench/load_bench.py [--duration 20] [--connections 16] [--threads 8] [--soak 0]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEO_ANTT = [sys.executable, "-m", "geo_antt"]

__all__ = ["main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], *, env: dict[str, str], stdin: str | None = None) -> str:
    proc = subprocess.run(GEO_ANTT + args, input=stdin, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"geo-antt {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def _token(out: str) -> str:
    """The token printed by ``geo-antt token create`` (its longest word)."""
    return max(out.split(), key=len)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def wrk(url: str, token: str, *, duration_s: int, connections: int, threads: int = 2) -> dict[str, float]:
    """Run wrk once; its figures: req/s, p50/p99 in ms, errors (non-2xx/3xx + socket errors)."""
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency",
                          "-H", f"Authorization: Bearer {token}", "-H", "Accept-Encoding: gzip", url],
                         capture_output=True, text=True, timeout=duration_s + 60).stdout
    fig: dict[str, float] = {"req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        fig[key] = _ms(m.group(1)) if m else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    fig["errors"] = float((int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0))
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=20, help="seconds per target (default 20)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=8, help="server threads (default 8)")
    ap.add_argument("--soak", type=int, default=0, help="seconds of soak on the commune's items after the targets")
    ap.add_argument("--commune", default=None, help="the officer's commune code (default: the demo's first)")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="geo-antt-load-"))
    db = f"sqlite:///{tmp / 'load.sqlite'}"
    env = {**os.environ, "GEO_ANTT_DB": db, "PYTHONPATH": str(ROOT)}
    _run(["db", "seed", "--data", str(ROOT / "data")], env=env)
    import geopandas as gpd

    communes = gpd.read_file(ROOT / "data" / "boundaries" / "communes.geojson")
    commune = args.commune or str(communes["code"].iloc[0])
    _run(["users", "add", "load-admin", "--role", "admin", "--password-stdin"], env=env, stdin="load-admin-password-1\n")
    _run(["users", "add", "load-officer", "--role", "officer", "--unit", commune, "--password-stdin"], env=env,
         stdin="load-officer-password-1\n")
    admin, officer = _token(_run(["token", "create", "load-admin"], env=env)), _token(_run(["token", "create", "load-officer"], env=env))
    port = _free_port()
    server = subprocess.Popen(GEO_ANTT + ["serve", "--port", str(port), "--threads", str(args.threads), "--db", db,
                                          "--data", str(ROOT / "data")], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/login", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        targets = [
            ("commune-cameras", f"{base}/collections/camera/items?unit={commune}&limit=1000", officer),
            ("all-cameras", f"{base}/collections/camera/items?limit=10000", admin),
            ("map-page", f"{base}/", admin),
        ]
        print(f"geo-antt load bench: demo store, commune {commune}, {args.threads} server threads, "
              f"wrk 2 threads x {args.connections} connections x {args.duration} s per target")
        print(f"server RSS at start: {_rss_mb(server.pid):.0f} MB")
        for name, url, token in targets:
            wrk(url, token, duration_s=2, connections=args.connections)  # warm-up
            rss0 = _rss_mb(server.pid)
            f = wrk(url, token, duration_s=args.duration, connections=args.connections)
            print(f"{name:16s} {f['req_s']:8.1f} req/s  p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms  "
                  f"errors {int(f['errors'])}  RSS {rss0:.0f} -> {_rss_mb(server.pid):.0f} MB")
        if args.soak:
            url, token = targets[0][1], targets[0][2]
            print(f"soak: {targets[0][0]} for {args.soak} s")
            left = args.soak
            while left > 0:
                step = min(60, left)
                f = wrk(url, token, duration_s=step, connections=args.connections)
                left -= step
                print(f"  t+{args.soak - left:5d} s  {f['req_s']:8.1f} req/s  p99 {f['p99_ms']:7.1f} ms  "
                      f"errors {int(f['errors'])}  RSS {_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
