"""The map page: rendering, languages, air-gapped assets, escaping, tiles; the serve command."""

from __future__ import annotations

import re
import unicodedata
from types import SimpleNamespace

import folium
import pytest
from folium.plugins import MarkerCluster

from tests.browser_support import need
from tests.web_fixtures import synthetic_models, synthetic_units

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


def _page(client, url="/map"):
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    return resp.get_data(as_text=True)


def test_map_page_vietnamese_by_default(client):
    html = _page(client)
    assert '<html lang="vi">' in html
    assert "Dữ liệu thử Mỏ Cày Nam" in html
    assert "Số liệu sơ kết, tổng kết" in html and "Các thôn phủ thấp nhất" in html
    assert html == unicodedata.normalize("NFC", html)
    assert 'href="/map?lang=en"' in html


def test_map_page_english(client):
    html = _page(client, "/map?lang=en")
    assert '<html lang="en">' in html
    assert "Mỏ Cày Nam test data" in html and "Least-covered hamlets" in html
    assert "Số liệu sơ kết" not in html
    assert '"Security camera"' in html  # layer titles for the layer control


def test_no_external_asset_urls(client):
    html = _page(client)
    assert URL.findall(html) == []
    srcs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assets = [s for s in srcs if not s.startswith("data:")]
    assert "/static/vendor/leaflet/leaflet.js" in assets
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in assets
    assert all(s.startswith("/static/") for s in assets), assets
    for name, url in (
        folium.Map.default_js + folium.Map.default_css + MarkerCluster.default_js + MarkerCluster.default_css
    ):
        assert url.startswith("/static/vendor/"), (name, url)


def test_vendor_assets_served_when_installed(client):
    from geo_antt.app.assets import VENDOR_FILES, missing_vendor_files

    need(not missing_vendor_files(), "web assets not installed: run scripts/vendor.sh")  # fails under CI
    for _, _, path in VENDOR_FILES:
        resp = client.get(f"/static/vendor/{path}")
        assert resp.status_code == 200, path
        resp.close()
    with client.get("/static/vendor/fontawesome/css/all.min.css") as r:
        css = r.get_data(as_text=True)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css)  # fonts load from the app, not a CDN
    font = re.search(r"url\((\.\./webfonts/[^)]+\.woff2)\)", css).group(1)
    r = client.get("/static/vendor/fontawesome/css/" + font)
    assert r.status_code == 200
    r.close()


def test_content_security_policy_keeps_the_browser_local(client):
    resp = client.get("/map")
    csp = resp.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp and "script-src 'self' 'unsafe-inline'" in csp
    assert "http" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in client.get("/collections").headers


def test_layers_config_and_no_inline_features(client):
    html = _page(client)
    cfg = _config(html)
    ids = [d["id"] for d in cfg["layers"]]
    assert ids[:3] == ["provinces", "districts", "communes"]
    for cid in ("hamlets", "camera", "lighting", "checkpoint", "gate", "coverage", "gaps", "footprints"):
        assert cid in ids
    assert "self_management" not in ids  # non-spatial: figures only
    cam = next(d for d in cfg["layers"] if d["id"] == "camera")
    assert cam["cluster"] and cam["color"] == "#c62828" and cam["icon"] == "video"
    assert "L.markerClusterGroup" in html and cam["var"] in html
    assert "maxZoom" in html and '"maxZoom": 19' in html
    # features are fetched by bbox, never inlined
    assert "CAM001" not in html and "Camera 28903-01" not in html
    assert {x["id"] for x in cfg["exports"]} >= {"gaps", "camera", "coverage"}
    assert cfg["urls"]["export"] == "/export/__NAME__"
    # the covered-share classes of the settings, fine at the low end, one colour more than breaks
    assert cfg["coverageClasses"]["breaks"] == [1.0, 5.0, 20.0, 50.0]
    assert len(cfg["coverageClasses"]["colors"]) == 5


def _config(html: str) -> dict:
    import json

    m = re.search(r'<script id="geo-antt-config" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_page_escapes_dataset_text(monkeypatch, web_store):
    from geo_antt import app as app_mod
    from tests.web_fixtures import login

    monkeypatch.setattr("geo_antt.catalog.live._compute_coverage", lambda *a, **k: None)
    evil = "</script><script>alert(1)</script>"
    meta = {"title": {"vi": evil, "en": evil}, "note": {"vi": "<b>x</b>", "en": "x"}}
    units = synthetic_units()
    units.loc["28903", "name"] = evil
    a = app_mod.create_app(
        {
            "TESTING": True,
            "STORE": web_store,
            "SECRET_KEY": "t",
            "DATASET": SimpleNamespace(units=units, models=synthetic_models(), meta=meta),
        }
    )
    c = login(a, "admin")
    html = c.get("/map").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html
    assert _config(html)["lang"] == "vi"  # the JSON blob stayed parseable
    # the API returns the name as data; the page's JS puts it into textContent
    hit = c.get("/api/search?q=alert").get_json()["results"][0]
    assert hit["name"] == evil


def test_page_scripts_never_parse_html():
    from geo_antt.app import WEB_ROOT

    scripts = sorted((WEB_ROOT / "static" / "js").glob("*.js"))
    assert {p.name for p in scripts} >= {"dom.js", "map.js", "plan.js", "edit.js", "import.js"}
    for path in scripts:
        js = path.read_text(encoding="utf-8")
        assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js, path.name
    assert "textContent" in (WEB_ROOT / "static" / "js" / "dom.js").read_text(encoding="utf-8")


def test_tiles_off_by_default_and_configurable(client, web_store, synthetic_dir, synthetic_cov):
    from geo_antt.app import create_app
    from tests.web_fixtures import login

    assert "L.tileLayer" not in _page(client)
    url = "http://tiles.intranet.local/{z}/{x}/{y}.png"
    a = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(synthetic_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "TILE_URL": url,
            "TILE_ATTRIBUTION": "Bản đồ nội bộ",
            "SECRET_KEY": "t",
        }
    )
    c = login(a, "admin")
    html = c.get("/map").get_data(as_text=True)
    assert "L.tileLayer" in html and url in html
    assert [u for u in URL.findall(html) if not u.startswith("http://tiles.intranet.local/")] == []
    csp = c.get("/map").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: http://tiles.intranet.local;" in csp


def test_tile_origin_of_templates():
    from geo_antt.app import _tile_origin

    assert _tile_origin(None) is None
    assert _tile_origin("/tiles/{z}/{x}/{y}.png") is None
    assert _tile_origin("https://{s}.tiles.gov.vn:8443/{z}/{x}/{y}.png") == "https://*.tiles.gov.vn:8443"
    assert _tile_origin("http://10.0.0.5/osm/{z}/{x}/{y}.png") == "http://10.0.0.5"


def test_serve_command_prints_url_and_first_admin_password(monkeypatch, capsys, synthetic_dir, tmp_path):
    from geo_antt.cli import build_parser, main
    from geo_antt.cli import serve as _cmd_web
    from geo_antt.store import Store

    calls = {}

    def fake_serve(app, **kw):
        calls.update(app=app, kw=kw)

    import waitress

    monkeypatch.setattr(waitress, "serve", fake_serve)
    monkeypatch.setattr("geo_antt.catalog.live._compute_coverage", lambda *a, **k: None)
    monkeypatch.setenv("GEO_ANTT_INSTANCE", str(tmp_path / "instance"))
    db = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    assert main(["serve", "--data", str(synthetic_dir), "--db", db, "--port", "5077"]) == 0
    out = capsys.readouterr().out
    calls["app"].extensions["geo_antt"].store.close()
    assert "http://127.0.0.1:5077/" in out
    assert calls["kw"] == {"host": "127.0.0.1", "port": 5077, "threads": 8, "ident": "geo-antt"}
    assert calls["app"].config["DATA_DIR"] == str(synthetic_dir)
    first_key = calls["app"].secret_key
    # first run: an admin account with a random password, printed once with how to change it
    m = re.search(r"created the account 'admin' with the password:\n\s+(\S+)\n", out)
    assert m and "geo-antt users passwd admin" in out
    with Store.open(db) as store:
        assert [(u.name, u.role) for u in store.list_users()] == [("admin", "admin")]
        assert store.authenticate("admin", m.group(1)) is not None
        assert len(store.models_frame(user=None)) == len(synthetic_models())  # seeded from --data
    # second run: the account exists, no password printed; the session key is the same, so
    # logins survive the restart
    assert (
        main(
            [
                "serve",
                "--data",
                str(synthetic_dir),
                "--db",
                db,
                "--port",
                "5077",
                "--threads",
                "3",
                "--trusted-proxy",
                "10.0.0.1",
            ]
        )
        == 0
    )
    calls["app"].extensions["geo_antt"].store.close()
    assert "password" not in capsys.readouterr().out
    assert calls["app"].secret_key == first_key and len(first_key) == 64
    assert calls["kw"]["threads"] == 3 and calls["kw"]["trusted_proxy"] == "10.0.0.1"
    assert calls["kw"]["trusted_proxy_headers"] == {"x-forwarded-for", "x-forwarded-proto"}
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.data, args.db, args.tile_url, args.dev) == (
        "127.0.0.1",
        5000,
        None,
        None,
        None,
        False,
    )
    assert args.func is _cmd_web.cmd_serve
    assert main(["serve", "--data", str(synthetic_dir), "--db", db, "--threads", "0"]) == 1
    assert "--threads 0" in capsys.readouterr().err


def test_serve_dev_uses_werkzeug(monkeypatch, synthetic_dir, tmp_path):
    from geo_antt.cli import main

    calls = {}
    import werkzeug.serving

    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda host, port, app, **kw: calls.update(app=app, kw=kw))
    monkeypatch.setattr("geo_antt.catalog.live._compute_coverage", lambda *a, **k: None)
    monkeypatch.setenv("GEO_ANTT_INSTANCE", str(tmp_path / "instance"))
    db = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    assert main(["serve", "--dev", "--data", str(synthetic_dir), "--db", db, "--port", "5078"]) == 0
    calls["app"].extensions["geo_antt"].store.close()
    assert calls["kw"]["threaded"] and not calls["kw"]["use_debugger"]


def test_serve_runs_waitress_for_real(synthetic_dir, tmp_path):
    """The real command in a child process: Waitress answers, the login page is served, the
    API needs a login, and Ctrl+C stops it.
    """
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GEO_ANTT_INSTANCE=str(tmp_path / "instance"))
    cmd = [
        sys.executable,
        "-m",
        "geo_antt",
        "serve",
        "--data",
        str(synthetic_dir),
        "--db",
        f"sqlite:///{tmp_path / 'real.sqlite'}",
        "--port",
        str(port),
        "--threads",
        "2",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
                    assert resp.status == 200 and resp.headers["Server"] == "geo-antt"
                    assert "Đăng nhập" in resp.read().decode("utf-8")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the server did not answer in 90 s"
                time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=5)
        assert denied.value.code == 401
        denied.value.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "created the account 'admin'" in out
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_persistent_secret_key(tmp_path):
    from geo_antt import GeoAnttError
    from geo_antt.app import persistent_secret_key

    path = tmp_path / "inst" / "secret_key"
    key = persistent_secret_key(path)
    assert len(key) == 64 and persistent_secret_key(path) == key
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary file left
    path.write_text("short\n")
    with pytest.raises(GeoAnttError, match="secret_key: the session key is empty"):
        persistent_secret_key(path)


def test_serve_command_reports_missing_dataset(tmp_path, capsys, monkeypatch):
    from geo_antt.cli import main

    monkeypatch.setenv("GEO_ANTT_INSTANCE", str(tmp_path / "instance"))

    assert main(["serve", "--data", str(tmp_path / "none")]) == 1
    assert "dataset.toml" in capsys.readouterr().err
