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
commune's items for S seconds and prints RSS every 30 s. Floors (issue #13, 2 cores): commune
items >= 300 req/s with p99 < 100 ms at 16 connections, the map page >= 100 req/s, no errors,
RSS flat over a 10-minute soak (``--soak 600``). A benchmark, not a test: it only prints.

``--models N`` adds N cameras (random points in the demo's hamlets) to the store before the
server starts; ``--import-rows N`` then imports a CSV of N new cameras of the officer's commune
through the web API (``POST /api/registry/import``: a background job, preview then commit)
while a client asks ``/api/me`` without pause, and prints /api/me's p50/p99/max during the job,
the job's times, the server's RSS (and its parse process's) after start, after the preview,
after the commit and once the catalog has been rebuilt (a 50,000-row commit is a full rebuild,
on a background thread), the wait of the items requests meanwhile (each at most the app's
``CATALOG_WAIT_S``, then served from the previous catalog) and the seconds until the catalog
shows the import. ``--only-import`` skips the wrk targets.
Issue #13: /api/me p99 < 200 ms during a 50,000-row import; state the RSS at 100,000 models.

Usage: python bench/load_bench.py [--duration 20] [--connections 16] [--threads 8] [--soak 0]
       [--models 100000] [--import-rows 50000] [--only-import]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's geo_antt, as the server it starts (PYTHONPATH)
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


def _children_rss_mb(pid: int) -> float:
    """RSS of the direct children of ``pid`` (the server's parse process), MB."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += _rss_mb(int(child))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total


def _rss_line(label: str, pid: int) -> str:
    return f"  RSS {label:34s} server {_rss_mb(pid):7.0f} MB   parse process {_children_rss_mb(pid):6.0f} MB"


def _add_cameras(db: str, n: int) -> None:
    """Add ``n`` cameras at random points of the demo's hamlets to the store ``db`` (system user)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from geo_antt.store import Store

    hamlets = gpd.read_file(ROOT / "data" / "boundaries" / "hamlets.geojson")
    rng = np.random.default_rng(11)
    geoms = hamlets.geometry.to_numpy()
    pick = rng.choice(len(hamlets), size=n, p=(a := shapely.area(geoms)) / a.sum())
    xs, ys = np.empty(n), np.empty(n)
    for h in np.unique(pick):
        rows = np.flatnonzero(pick == h)
        x0, y0, x1, y1 = geoms[h].bounds
        got = 0
        while got < len(rows):
            px, py = rng.uniform(x0, x1, 4 * len(rows)), rng.uniform(y0, y1, 4 * len(rows))
            inside = shapely.contains_xy(geoms[h], px, py)
            take = min(len(rows) - got, int(inside.sum()))
            xs[rows[got : got + take]], ys[rows[got : got + take]] = px[inside][:take], py[inside][:take]
            got += take
    frame = gpd.GeoDataFrame(
        {
            "id": [f"LB{i:06d}" for i in range(n)],
            "kind": "camera",
            "name": [f"Camera tải {i}" for i in range(n)],
            "status": "active",
            "unit_code": hamlets["code"].to_numpy()[pick].astype(str),
            "direction_deg": [(float(d),) for d in rng.uniform(0, 360, n)],
            "fov_deg": 90.0,
            "range_m": 40.0,
        },
        geometry=gpd.points_from_xy(xs, ys),
        crs="EPSG:4326",
    )
    with Store.open(db) as store:
        store.commit_import(store.preview_import(frame, user=None, source="load_bench"), user=None, audit_each=False)


def _commune_csv(commune: str, rows: int) -> bytes:
    """A CSV of ``rows`` new cameras at random points of ``commune``'s hamlets (its officer imports it)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    hamlets = gpd.read_file(ROOT / "data" / "boundaries" / "hamlets.geojson")
    mine = hamlets[hamlets["parent_code"].astype(str) == commune]
    rng = np.random.default_rng(5)
    lines = ["mã,loại,tên,vĩ độ,kinh độ,hướng,góc,tầm xa,mã thôn"]
    per = np.array_split(np.arange(rows), len(mine))
    for (code, geom), idx in zip(zip(mine["code"].astype(str), mine.geometry), per):
        x0, y0, x1, y1 = geom.bounds
        pts: list[tuple[float, float]] = []
        while len(pts) < len(idx):
            px, py = rng.uniform(x0, x1, 4 * len(idx) + 8), rng.uniform(y0, y1, 4 * len(idx) + 8)
            inside = shapely.contains_xy(geom.buffer(-1e-5), px, py)
            pts.extend(zip(px[inside], py[inside]))
        for i, (x, y) in zip(idx, pts):
            lines.append(f"IM{i:06d},camera,Camera nhập {i},{y:.7f},{x:.7f},{rng.uniform(0, 360):.1f},90,40,{code}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _request(
    url: str, token: str, *, data: bytes | None = None, ctype: str | None = None, timeout: float = 600
) -> tuple[int, dict, object]:
    headers = {"Authorization": f"Bearer {token}"}
    if ctype:
        headers["Content-Type"] = ctype
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read()), r.headers


def _import_job(base: str, token: str, blob: bytes, fields: dict[str, str]) -> tuple[dict, float]:
    """POST the CSV (multipart), poll the job to its end; the job and its seconds."""
    boundary = "geoanttloadbench"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="load.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + blob
        + f"\r\n--{boundary}--\r\n".encode()
    )
    t0 = time.perf_counter()
    status, job, headers = _request(
        f"{base}/api/registry/import", token, data=body, ctype=f"multipart/form-data; boundary={boundary}"
    )
    assert status == 202, (status, job)
    url = base + headers["Location"]  # type: ignore[index]
    while job["state"] not in ("done", "failed"):
        time.sleep(0.25)
        job = _request(url, token)[1]
    if job["state"] == "failed":
        raise SystemExit(f"import job failed: {job['error']}")
    return job, time.perf_counter() - t0


def import_bench(base: str, pid: int, token: str, commune: str, rows: int) -> None:
    """A ``rows``-row import (preview, then commit) while a client asks /api/me; prints figures."""
    import numpy as np

    blob = _commune_csv(commune, rows)
    print(f"import: {rows:,} new cameras of commune {commune} ({len(blob) / 2**20:.1f} MB CSV) by its officer")
    latencies: list[float] = []
    stop = threading.Event()

    def ask_me() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            _request(f"{base}/api/me", token, timeout=60)
            latencies.append(time.perf_counter() - t)

    preview: dict = {}  # the preview job's answer; the commit quotes its fingerprint
    for phase, fields in (("preview", {"unit": commune}), ("commit", None)):
        if fields is None:
            fields = {"unit": commune, "commit": "1", "fingerprint": preview["result"]["fingerprint"]}
        latencies.clear()
        stop.clear()
        sampler = threading.Thread(target=ask_me, daemon=True)
        sampler.start()
        job, seconds = _import_job(base, token, blob, fields)
        stop.set()
        sampler.join(70)
        ms = np.asarray(latencies) * 1000
        counts = job["result"]["counts"]
        print(
            f"  {phase:8s} job {seconds:6.1f} s  counts {counts}   /api/me during it: {len(ms)} answers, "
            f"p50 {np.percentile(ms, 50):6.1f} ms  p99 {np.percentile(ms, 99):6.1f} ms  max {ms.max():6.1f} ms"
        )
        print(_rss_line(f"after the {phase}", pid))
        if phase == "preview":
            preview = job
    # the catalog is rebuilt on a background thread: requests wait for it at most the app's
    # CATALOG_WAIT_S, then are answered from the previous catalog until the new one is in place
    url = f"{base}/collections/camera/items?unit={commune}&limit=1"
    waits: list[float] = []
    t0 = time.perf_counter()
    while True:
        t = time.perf_counter()
        n = _request(url, token, timeout=120)[1].get("numberMatched")
        waits.append(time.perf_counter() - t)
        if n is not None and n >= rows or time.perf_counter() - t0 > 600:
            break
        time.sleep(0.2)
    ms = np.asarray(waits) * 1000
    print(
        f"  items requests until the catalog shows the import: {len(ms)}, first {ms[0]:.0f} ms, "
        f"max {ms.max():.0f} ms; the catalog caught up {time.perf_counter() - t0:.1f} s after the commit"
    )
    print(_rss_line("after the catalog rebuild", pid))
    # the updater gives the previous catalog's pages back (malloc_trim) just after the swap,
    # once the requests still reading it are done
    for wait in (5, 30):
        time.sleep(wait - (5 if wait == 30 else 0))
        print(_rss_line(f"{wait} s after the rebuild", pid))


def wrk(url: str, token: str, *, duration_s: int, connections: int, threads: int = 2) -> dict[str, float]:
    """Run wrk once; its figures: req/s, p50/p99 in ms, errors (non-2xx/3xx + socket errors)."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Accept-Encoding: gzip",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration_s + 60,
    ).stdout
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
    ap.add_argument("--models", type=int, default=0, help="cameras added to the demo store before the server starts")
    ap.add_argument("--import-rows", type=int, default=0, help="rows of a web import (preview + commit) to measure")
    ap.add_argument("--only-import", action="store_true", help="skip the wrk targets (with --models/--import-rows)")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None and not args.only_import:
        raise SystemExit("wrk is missing: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="geo-antt-load-"))
    db = f"sqlite:///{tmp / 'load.sqlite'}"
    env = {**os.environ, "GEO_ANTT_DB": db, "PYTHONPATH": str(ROOT)}
    _run(["db", "seed", "--data", str(ROOT / "data")], env=env)
    if args.models:
        t0 = time.perf_counter()
        _add_cameras(db, args.models)
        print(f"store: demo + {args.models:,} cameras ({time.perf_counter() - t0:.0f} s to add)", flush=True)
    import geopandas as gpd

    communes = gpd.read_file(ROOT / "data" / "boundaries" / "communes.geojson")
    commune = args.commune or str(communes["code"].iloc[0])
    _run(
        ["users", "add", "load-admin", "--role", "admin", "--password-stdin"], env=env, stdin="load-admin-password-1\n"
    )
    _run(
        ["users", "add", "load-officer", "--role", "officer", "--unit", commune, "--password-stdin"],
        env=env,
        stdin="load-officer-password-1\n",
    )
    admin, officer = (
        _token(_run(["token", "create", "load-admin"], env=env)),
        _token(_run(["token", "create", "load-officer"], env=env)),
    )
    port = _free_port()
    server = subprocess.Popen(
        GEO_ANTT
        + ["serve", "--port", str(port), "--threads", str(args.threads), "--db", db, "--data", str(ROOT / "data")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        t_start = time.perf_counter()
        while True:  # the server builds its catalog before it listens (minutes at 100,000 models)
            try:
                urllib.request.urlopen(f"{base}/login", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - t_start > 1800:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        print(f"server up in {time.perf_counter() - t_start:.0f} s", flush=True)
        targets = [
            ("commune-cameras", f"{base}/collections/camera/items?unit={commune}&limit=1000", officer),
            ("all-cameras", f"{base}/collections/camera/items?limit=10000", admin),
            ("map-page", f"{base}/", admin),
        ]
        print(
            f"geo-antt load bench: demo store, commune {commune}, {args.threads} server threads, "
            f"wrk 2 threads x {args.connections} connections x {args.duration} s per target"
        )
        print(
            f"server RSS at start: {_rss_mb(server.pid):.0f} MB (parse process {_children_rss_mb(server.pid):.0f} MB)",
            flush=True,
        )
        for name, url, token in [] if args.only_import else targets:
            wrk(url, token, duration_s=2, connections=args.connections)  # warm-up
            rss0 = _rss_mb(server.pid)
            f = wrk(url, token, duration_s=args.duration, connections=args.connections)
            print(
                f"{name:16s} {f['req_s']:8.1f} req/s  p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms  "
                f"errors {int(f['errors'])}  RSS {rss0:.0f} -> {_rss_mb(server.pid):.0f} MB"
            )
        if args.import_rows:
            import_bench(base, server.pid, officer, commune, args.import_rows)
        if args.soak:
            url, token = targets[0][1], targets[0][2]
            print(f"soak: {targets[0][0]} for {args.soak} s")
            left = args.soak
            while left > 0:
                step = min(30, left)
                f = wrk(url, token, duration_s=step, connections=args.connections)
                left -= step
                print(
                    f"  t+{args.soak - left:5d} s  {f['req_s']:8.1f} req/s  p99 {f['p99_ms']:7.1f} ms  "
                    f"errors {int(f['errors'])}  RSS {_rss_mb(server.pid):.0f} MB",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
