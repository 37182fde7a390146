"""Shared fixtures: hand-checkable metric fixtures, the real data in ../shared/data, and a real
PostgreSQL + PostGIS server for the store tests.

* ``postgis_server`` (session): ``initdb`` into a temporary folder (as the ``postgres`` system user
  when running as root), a random loopback port, its socket in that folder, a template database
  with ``CREATE EXTENSION postgis``. Skipped when the binaries are missing, except with CI=true.
* ``postgis_url``: a fresh database (copied from the template) per test.
* ``store_url``: parametrised over both store backends: an SQLite file in ``tmp_path``, and PostGIS.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from tests.browser_support import need

# the command line writes English unless told otherwise (a developer's vi_VN locale must not
# change what the tests read); tests of the Vietnamese output set the language themselves
os.environ.setdefault("GEO_ANTT_LANG", "en")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# A corner of UTM 48N in the Mekong delta (about 105.0 E, 9.95 N): coordinates checkable by hand.
X0, Y0 = 500_000.0, 1_100_000.0


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (real boundaries). Skips when absent, except in CI where it fails."""
    need((SHARED_DATA / "boundaries").is_dir(), f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def make_units(rows: list[tuple[str, str, str, str | None, object]], *, crs: str = "EPSG:32648") -> gpd.GeoDataFrame:
    """Units frame from (code, name, level, parent_code, geometry) rows."""
    gdf = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "parent_code": [r[3] for r in rows],
            "approximate": False,
            "valid_from": None,
            "valid_to": None,
        },
        geometry=[r[4] for r in rows],
        crs=crs,
    )
    return gdf.set_index("code", drop=False)


def make_models(rows: list[dict], *, crs: str = "EPSG:32648") -> gpd.GeoDataFrame:
    """Models frame from dicts with at least id, kind, x, y (metres; None for non-spatial)."""
    recs = []
    geoms = []
    for r in rows:
        d = {
            "id": r["id"],
            "kind": r["kind"],
            "name": r.get("name", r["id"]),
            "field": r.get("field"),
            "host": r.get("host"),
            "status": r.get("status", "active"),
            "unit_code": r.get("unit_code"),
            "direction_deg": tuple(r.get("direction_deg", ())),
            "fov_deg": r.get("fov_deg", np.nan),
            "range_m": r.get("range_m", np.nan),
            "radius_m": r.get("radius_m", np.nan),
        }
        recs.append(d)
        geoms.append(r.get("geometry") or (Point(r["x"], r["y"]) if r.get("x") is not None else None))
    cols = [
        "id",
        "kind",
        "name",
        "field",
        "host",
        "status",
        "unit_code",
        "direction_deg",
        "fov_deg",
        "range_m",
        "radius_m",
    ]
    gdf = gpd.GeoDataFrame(pd.DataFrame(recs, columns=cols), geometry=geoms, crs=crs)
    return gdf.set_index("id", drop=False)


@pytest.fixture
def square_hamlet() -> gpd.GeoDataFrame:
    """One commune of two 100 m x 100 m hamlets side by side (EPSG:32648)."""
    return make_units(
        [
            ("C1", "Xã Thử", "commune", None, box(X0, Y0, X0 + 200, Y0 + 100)),
            ("H1", "Ấp 1", "hamlet", "C1", box(X0, Y0, X0 + 100, Y0 + 100)),
            ("H2", "Ấp 2", "hamlet", "C1", box(X0 + 100, Y0, X0 + 200, Y0 + 100)),
        ]
    )


# -- web app on a small synthetic dataset (tests/web_fixtures.py) ------------------------------


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A dataset directory (dataset.toml + GeoJSON) of the synthetic Mỏ Cày Nam case."""
    from tests.web_fixtures import synthetic_models, synthetic_units, write_dataset

    return write_dataset(tmp_path_factory.mktemp("dataset"), synthetic_units(), synthetic_models())


@pytest.fixture(scope="session")
def synthetic_cov():
    """Coverage frames (units, gaps, footprints) of the synthetic case."""
    from tests.web_fixtures import synthetic_coverage, synthetic_models, synthetic_units

    return synthetic_coverage(synthetic_units(), synthetic_models())


@pytest.fixture(scope="session")
def synthetic_store_file(tmp_path_factory, synthetic_dir) -> Path:
    """An SQLite store seeded from the synthetic dataset, with the web test accounts
    (tests/web_fixtures.WEB_USERS); copied by :func:`web_store` for each test.
    """
    from geo_antt.store import Store, seed_from_dataset
    from tests.storehelp import CHEAP_HASHER
    from tests.web_fixtures import add_web_users

    path = tmp_path_factory.mktemp("store") / "web.sqlite"
    with Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER) as store:
        seed_from_dataset(store, synthetic_dir, echo=lambda line: None)
        add_web_users(store)
    return path


@pytest.fixture()
def web_store(tmp_path, synthetic_store_file):
    """A fresh copy of the seeded synthetic store (cheap password hashing), closed after the test."""
    from geo_antt.store import Store
    from tests.storehelp import CHEAP_HASHER

    path = tmp_path / "web.sqlite"
    shutil.copyfile(synthetic_store_file, path)
    store = Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER)
    yield store
    store.close()


@pytest.fixture()
def app(web_store, synthetic_dir, synthetic_cov):
    """The web app (flaskr style) on the store seeded from the synthetic dataset, with its
    coverage frames.
    """
    from geo_antt.app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(synthetic_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "web-test",
        }
    )


@pytest.fixture(autouse=True)
def _catalog_waits(monkeypatch):
    """Every app a test builds waits for the catalog it asked for (1 s and 10 s in service), so
    that a test reads what it just wrote however loaded the CI machine is: the outcome must not
    depend on thread timing. tests/test_catalog_live.py sets ``CATALOG_WAIT_S`` itself to test
    the short wait and the previous catalog served meanwhile.
    """
    from geo_antt.app import context

    monkeypatch.setattr(context, "CATALOG_WAIT_S", 120.0)
    monkeypatch.setattr(context, "CATALOG_WRITE_WAIT_S", 120.0)


@pytest.fixture()
def client(app):
    """Logged in as the admin (sees everything)."""
    from tests.web_fixtures import login

    return login(app, "admin")


@pytest.fixture()
def officer_client(app):
    """Logged in as the officer of Xã Hương Mỹ (28903)."""
    from tests.web_fixtures import login

    return login(app, "officer")


@pytest.fixture()
def viewer_client(app):
    """Logged in as the viewer of Xã Hương Mỹ (28903)."""
    from tests.web_fixtures import login

    return login(app, "viewer")


@pytest.fixture()
def anon_client(app):
    """Not logged in (``anon_client.csrf``: the anonymous session's CSRF token)."""
    from tests.web_fixtures import login

    return login(app, None)


# ----------------------------------------------------------------------------------------------
# PostgreSQL + PostGIS for the store tests


def _pg_bindir() -> Path | None:
    env = os.environ.get("GEO_ANTT_PG_BINDIR")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str) -> None:
    need(False, f"PostGIS tests cannot run: {reason}")


@pytest.fixture(scope="session")
def postgis_server() -> Iterator[dict[str, Any]]:
    """A PostgreSQL + PostGIS server for this test session (see the module docstring)."""
    bindir = _pg_bindir()
    if bindir is None:
        _unavailable("PostgreSQL binaries (initdb, postgres) not found")
    ext = glob.glob("/usr/share/postgresql/*/extension/postgis.control") + glob.glob(
        str(bindir.parent / "share" / "extension" / "postgis.control")
    )
    if not ext:
        _unavailable("the PostGIS extension is not installed")
    import psycopg

    run_as: dict[str, Any] = {}
    base = Path(tempfile.mkdtemp(prefix="geo-antt-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root: use the postgres system account
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' account to run the server")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        run_as = {"user": pw.pw_uid, "group": pw.pw_gid}
    data = base / "data"
    log = base / "server.log"
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "geo", "--auth=trust", "-E", "UTF8", "--no-locale", "-N"],
        check=True,
        capture_output=True,
        **run_as,
    )
    port = _free_port()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(base),
                "-h",
                "127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            **run_as,
        )
    dsn = f"host=127.0.0.1 port={port} user=geo"
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(dsn + " dbname=postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE geo_tpl")
            break
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                text = log.read_text(errors="replace")[-2000:]
                shutil.rmtree(base, ignore_errors=True)
                pytest.fail(f"PostgreSQL did not start: {text}")
            time.sleep(0.1)
    with psycopg.connect(dsn + " dbname=geo_tpl", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "geo", "dsn": dsn, "base": base}
    finally:
        proc.send_signal(signal.SIGINT)  # "fast" shutdown: does not wait for pooled clients
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgis_url(postgis_server: dict[str, Any]) -> str:
    """A new, empty database with PostGIS on the session server (SQLAlchemy URL)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgis_server["dsn"] + " dbname=postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE geo_tpl")
    return f"postgresql://geo@127.0.0.1:{postgis_server['port']}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for each backend: an SQLite file, then a PostGIS database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'geo-antt.sqlite'}"
    return request.getfixturevalue("postgis_url")


# -- browser tests: a live server on a random loopback port and headless Chromium ---------------


@pytest.fixture()
def live_server(app):
    """``app`` (the requesting module's) served by a threaded server on 127.0.0.1:<free port>."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture()
def browser():
    """Headless Debian Chromium through Playwright (skipped, or failed under CI=true, when
    Chromium or the vendored web assets are missing).
    """
    from geo_antt.app.assets import missing_vendor_files
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, need

    need(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    need(not missing_vendor_files(), "web assets missing: run scripts/vendor.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
