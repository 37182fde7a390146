"""Time of the import and audit pages' server work on a commune-sized spreadsheet.

Builds the synthetic test case (tests/web_fixtures: one district, two communes of 440 m), an
SQLite store with its accounts, and the web app; then, as the officer of Xã Hương Mỹ through the
Flask test client (session, CSRF, the login guard and the scope look-ups included), prints:

* the preview and the commit of a CSV of ``--rows`` new cameras (``POST /api/registry/import``),
* the preview of the same file again (nothing to change),
* the audit page (first page of 50 entries, and filtered by account) once the log holds them.

Usage: python bench/pages_bench.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

__all__ = ["main"]


def _csv(rows: int, *, seed: int = 3) -> bytes:
    from tests.web_fixtures import STEP, X0, Y0

    rng = np.random.default_rng(seed)
    lines = ["mã,loại,tên,vĩ độ,kinh độ,hướng,góc,tầm xa,mã thôn"]
    for i in range(rows):
        lat = Y0 + STEP * rng.uniform(0.02, 0.48)  # the southern hamlet 28903-02
        lon = X0 + STEP * rng.uniform(0.02, 0.98)
        lines.append(f"B{i:05d},camera,Camera số {i + 1},{lat:.7f},{lon:.7f},{rng.uniform(0, 360):.1f},90,40,28903-02")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<52} {1000 * (time.perf_counter() - t0):8.0f} ms")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000, help="cameras in the spreadsheet (default 2000)")
    args = ap.parse_args(argv)

    from geo_antt.app import create_app
    from geo_antt.store import Store, seed_from_dataset
    from tests.storehelp import CHEAP_HASHER
    from tests.web_fixtures import WEB_USERS, add_web_users, login, synthetic_models, synthetic_units, write_dataset

    tmp = Path(tempfile.mkdtemp(prefix="geo-antt-pages-bench-"))
    try:
        data = write_dataset(tmp / "data", synthetic_units(), synthetic_models())
        store = Store.open(f"sqlite:///{tmp / 'bench.sqlite'}", password_hasher=CHEAP_HASHER)
        seed_from_dataset(store, data, echo=lambda line: None)
        add_web_users(store)
        app = create_app({"TESTING": True, "DATA_DIR": str(data), "STORE": store, "SECRET_KEY": "bench"})
        client = login(app, "officer")
        h = {"X-CSRFToken": client.csrf}
        blob = _csv(args.rows)
        print(f"{args.rows} rows, {len(blob) / 1024:.0f} KiB CSV; officer {WEB_USERS['officer'][0]} of 28903")

        def post(**form):
            r = client.post(
                "/api/registry/import",
                data={"unit": "28903", "file": (io.BytesIO(blob), "bench.csv"), **form},
                headers=h,
            )
            assert r.status_code == 200, r.get_data(as_text=True)[:500]
            return r.get_json()

        p = _timed("preview (new rows)", post)
        assert p["counts"]["new"] == args.rows, p["counts"]
        _timed("commit (all or nothing)", lambda: post(commit="1", fingerprint=p["fingerprint"]))
        again = _timed("preview of the same file (nothing to change)", post)
        assert again["counts"]["unchanged"] == args.rows
        page = _timed("/audit first page (50 of the log)", lambda: client.get("/audit"))
        assert page.status_code == 200
        _timed(
            f"/audit?user={WEB_USERS['officer'][0]}&page=3",
            lambda: client.get(f"/audit?user={WEB_USERS['officer'][0]}&page=3"),
        )
        _timed("/import page", lambda: client.get("/import"))
        print(f"audit log entries: {len(store.audit_frame(limit=10**7))}")
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
