"""Import benchmark: rows/s of ``Store.commit_import`` on SQLite (executemany) and PostGIS (COPY).

Prints figures; asserts nothing. Each size gets a fresh store (the synthetic province of
``store_bench.py``); the commit is one transaction with one audit entry per model, as
``geo-antt db import`` does. Usage::

    python bench/import_bench.py --db postgresql://geo@127.0.0.1:5432/postgres          # 100,000 and 1,000,000
    python bench/import_bench.py --db postgresql://... --n 100000 --row-by-row          # + the old PostGIS path
    python bench/import_bench.py --db postgresql://... --n 100000 --updates             # + re-import: N updates

``--updates`` times a second import of the same ids with changed values (names, directions,
fields of view, every other position moved): N updates, one audit entry each. ``cpu`` is this
process's CPU time during the commit; ``server cpu`` (PostGIS, Linux) that of the server's
processes.

``--db`` names a PostgreSQL server (any database of it) whose user may create databases; a
database with PostGIS is created for each run and dropped afterwards. Without it only SQLite runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import argon2
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_bench import _models, _units  # noqa: E402

from geo_antt.store import Store  # noqa: E402
from geo_antt.store import _importing as store_module  # noqa: E402

__all__: list[str] = []

_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _row_by_row(conn, table, rows, *, written=None):
    """The PostgreSQL insert path before COPY: executemany in batches of 500."""
    for i in range(0, len(rows), 500):
        conn.execute(table.insert(), rows[i : i + 500])
        if written is not None:
            written(len(rows[i : i + 500]))


class _PostGIS:
    """A fresh database with PostGIS on the server of ``url``, dropped on exit."""

    def __init__(self, url: str) -> None:
        self.admin = sa.create_engine(
            sa.engine.make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        self.name = f"geo_antt_bench_{uuid.uuid4().hex[:8]}"
        self.url = sa.engine.make_url(url).set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {self.name}"))
        engine = sa.create_engine(sa.engine.make_url(self.url).set(drivername="postgresql+psycopg"))
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        engine.dispose()
        return self.url

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
        self.admin.dispose()


def _server_cpu(store: Store) -> float | None:
    """CPU seconds used so far by the PostgreSQL server's processes (children of the postmaster),
    or None (SQLite, or no /proc).
    """
    if store.backend != "postgresql" or not Path("/proc/self/stat").exists():
        return None
    with store._engine.connect() as conn:
        backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    try:
        postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:  # another machine's server
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster or proc.name == str(postmaster):
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _commit(store: Store, gdf, n: int, label: str, what: str) -> dict[str, int]:
    t0 = time.perf_counter()
    preview = store.preview_import(gdf, user=None, unit_code="P")
    t_preview = time.perf_counter() - t0
    del gdf
    gc.collect()
    s0 = _server_cpu(store)
    c0, t0 = time.process_time(), time.perf_counter()
    counts = store.commit_import(preview, user=None)
    t_commit, cpu = time.perf_counter() - t0, time.process_time() - c0
    s1 = _server_cpu(store)
    server = f", server cpu {s1 - s0:6.1f} s" if s0 is not None and s1 is not None else ""
    print(
        f"  {label:<22} {n:>9,} {what}: commit {t_commit:7.2f} s = {n / t_commit:>9,.0f} rows/s"
        f"   (cpu {cpu:6.1f} s{server}; preview {t_preview:6.1f} s)",
        flush=True,
    )
    return counts


def _changed(gdf):
    """The same models with new values: every name, direction and field of view, half the positions."""
    import numpy as np
    import shapely

    out = gdf.copy()
    n = len(out)
    out["name"] = [f"Camera {i} (đã sửa)" for i in range(n)]
    out["direction_deg"] = [((d[0] + 45.0) % 360.0, 10.0) for d in gdf["direction_deg"]]
    out["fov_deg"] = 75.0
    x, y = shapely.get_x(gdf.geometry.values), shapely.get_y(gdf.geometry.values)
    dx = np.where(np.arange(n) % 2 == 0, 0.0001, 0.0)
    out = out.set_geometry(shapely.points(x + dx, y))
    return out


def _run(url: str, n: int, communes: int, label: str, *, updates: bool = False) -> None:
    import numpy as np

    with Store.open(url, password_hasher=_HASHER) as store:
        store.put_units(_units(communes), user=None)
        gdf = _models(n, communes, np.random.default_rng(7))
        changed = _changed(gdf) if updates else None
        counts = _commit(store, gdf, n, label, "new")
        assert counts["new"] == n, counts
        del gdf
        if changed is not None:
            counts = _commit(store, changed, n, label, "upd")
            assert counts["update"] == n, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000], help="models per run")
    ap.add_argument("--communes", type=int, default=100)
    ap.add_argument("--db", help="a PostgreSQL server URL (PostGIS runs skipped without it)")
    ap.add_argument("--row-by-row", action="store_true", help="also time PostGIS with executemany (the old path)")
    ap.add_argument("--updates", action="store_true", help="also time a re-import of the same ids (N updates)")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    print("commit_import, one transaction, one audit entry per model", flush=True)
    for n in args.n:
        if args.db:
            with _PostGIS(args.db) as url:
                _run(url, n, args.communes, "PostGIS (COPY)", updates=args.updates)
            if args.row_by_row:
                real = store_module._insert_rows
                store_module._insert_rows = _row_by_row
                try:
                    with _PostGIS(args.db) as url:
                        _run(url, n, args.communes, "PostGIS (row by row)", updates=args.updates)
                finally:
                    store_module._insert_rows = real
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                _run(
                    f"sqlite:///{Path(tmp) / 'bench.sqlite'}",
                    n,
                    args.communes,
                    "SQLite (executemany)",
                    updates=args.updates,
                )


if __name__ == "__main__":
    main()
