"""The offline base map (geo_antt.io.basemap, geo_antt.app.basemap): MBTiles tiles in XYZ order
with their media types and caching headers, empty 404s, 400 for bad addresses, the PMTiles
archive by range requests, the map page's configuration and CSP, and ``serve --basemap``.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from geo_antt._errors import GeoAnttError
from geo_antt.io.basemap import MBTiles, PMTilesArchive, open_basemap, tile_content_type
from tests.basemap_fixtures import make_mbtiles, make_pmtiles, png_tile, tile_range
from tests.web_fixtures import login

BBOX = (106.29, 10.09, 106.318, 10.114)  # around the synthetic communes (tests/web_fixtures.py)


def _app(web_store, synthetic_dir, synthetic_cov, basemap):
    from geo_antt.app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(synthetic_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "web-test",
            "BASEMAP": str(basemap),
        }
    )


@pytest.fixture()
def mbtiles_file(tmp_path):
    return make_mbtiles(tmp_path / "bt.mbtiles", bbox=BBOX, zooms=range(12, 15))


@pytest.fixture()
def pmtiles_file(tmp_path):
    return make_pmtiles(tmp_path / "bt.pmtiles", bbox=BBOX, zooms=range(12, 15))


def _config(client) -> dict:
    html = client.get("/map").get_data(as_text=True)
    return json.loads(
        re.search(r'<script id="geo-antt-config" type="application/json">(.*?)</script>', html, re.DOTALL).group(1)
    )


# -- reading the files ------------------------------------------------------------------------


def test_mbtiles_rows_are_tms_and_served_as_xyz(tmp_path):
    a, b = png_tile(mark=1), png_tile(mark=2)
    # z=2: XYZ row 0 (north) is stored as TMS row 3; XYZ row 3 as TMS row 0
    path = make_mbtiles(
        tmp_path / "f.mbtiles", bbox=(-180, -85, 180, 85), zooms=range(2, 3), tiles={(2, 1, 0): a, (2, 1, 3): b}
    )
    con = sqlite3.connect(path)
    assert con.execute("SELECT tile_data FROM tiles WHERE tile_row = 3").fetchone()[0] == a
    con.close()
    bm = open_basemap(path)
    assert isinstance(bm, MBTiles)
    assert bm.tile(2, 1, 0) == a and bm.tile(2, 1, 3) == b
    assert bm.tile(2, 1, 1) is None and bm.tile(2, 0, 0) is None
    with pytest.raises(ValueError):
        bm.tile(2, 4, 0)
    with pytest.raises(ValueError):
        bm.tile(-1, 0, 0)
    # metadata: name, plain-text attribution (tags out, entities decoded), bounds and zooms
    info = bm.info
    assert (info.kind, info.name, info.format, info.minzoom, info.maxzoom) == ("mbtiles", "Bến Tre (thử)", "png", 2, 2)
    assert info.attribution == "© Sở TN&MT" and info.bounds == (-180, -85, 180, 85) and not info.vector
    bm.close()
    assert bm.tile(2, 1, 0) == a  # a closed pool opens a connection again


def test_mbtiles_is_opened_read_only(mbtiles_file):
    bm = open_basemap(mbtiles_file)
    con = bm._acquire()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        con.execute("DELETE FROM tiles")
    bm._release(con)
    bm.close()


def test_mbtiles_without_zooms_or_format_in_metadata(tmp_path):
    tiles = {(3, 2, 2): png_tile(fmt="JPEG"), (5, 1, 1): png_tile(fmt="JPEG")}
    path = make_mbtiles(
        tmp_path / "j.mbtiles",
        bbox=(-10, -10, 10, 10),
        zooms=range(1),
        tiles=tiles,
        metadata={"minzoom": None, "maxzoom": None, "format": None, "bounds": None},
    )
    info = open_basemap(path).info
    assert (info.minzoom, info.maxzoom, info.format, info.bounds) == (3, 5, "jpg", None)


def test_content_type_from_bytes_then_metadata():
    assert tile_content_type(png_tile()) == "image/png"
    assert tile_content_type(png_tile(fmt="JPEG")) == "image/jpeg"
    assert tile_content_type(png_tile(fmt="WEBP")) == "image/webp"
    assert tile_content_type(b"????", "jpg") == "image/jpeg"
    assert tile_content_type(b"????", "webp") == "image/webp"
    assert tile_content_type(b"????", None) == "application/octet-stream"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an MBTiles"),
        (b"hello, world", "not an MBTiles"),
        (b"PMTiles\x03" + b"\x00" * 10, "too short"),
    ],
)
def test_bad_files_are_refused(tmp_path, content, message):
    p = tmp_path / "bad.bin"
    p.write_bytes(content)
    with pytest.raises(GeoAnttError, match=message):
        open_basemap(p)


def test_bad_mbtiles_are_refused(tmp_path):
    with pytest.raises(GeoAnttError, match="cannot read"):
        open_basemap(tmp_path / "missing.mbtiles")
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(GeoAnttError, match="needs the tables"):
        open_basemap(plain)
    vec = make_mbtiles(tmp_path / "v.mbtiles", bbox=(0, 0, 1, 1), zooms=range(1, 2), metadata={"format": "pbf"})
    with pytest.raises(GeoAnttError, match="pmtiles convert"):
        open_basemap(vec)
    bad = make_mbtiles(tmp_path / "b.mbtiles", bbox=(0, 0, 1, 1), zooms=range(1, 2), metadata={"bounds": "1,2,3"})
    with pytest.raises(GeoAnttError, match="bounds"):
        open_basemap(bad)
    bad = make_mbtiles(tmp_path / "z.mbtiles", bbox=(0, 0, 1, 1), zooms=range(1, 2), metadata={"maxzoom": "x"})
    with pytest.raises(GeoAnttError, match="maxzoom"):
        open_basemap(bad)


def test_pmtiles_header_and_tiles(pmtiles_file):
    import gzip

    import mapbox_vector_tile

    bm = open_basemap(pmtiles_file)
    assert isinstance(bm, PMTilesArchive)
    info = bm.info
    assert (info.kind, info.format, info.vector, info.minzoom, info.maxzoom) == ("pmtiles", "pbf", True, 12, 14)
    assert info.bounds == pytest.approx(BBOX, abs=1e-6)
    assert info.name == "Bến Tre" and info.attribution == "© OpenStreetMap"
    x, y = tile_range(BBOX, 13)[0]
    layers = mapbox_vector_tile.decode(gzip.decompress(bm.tile(13, x, y)))
    assert set(layers) == {"earth", "water", "buildings", "roads"}
    assert bm.tile(13, 0, 0) is None and bm.tile(15, x, y) is None
    bm.close()


# -- serving ----------------------------------------------------------------------------------


def test_tiles_served_in_xyz_with_type_and_cache_headers(web_store, synthetic_dir, synthetic_cov, mbtiles_file):
    app = _app(web_store, synthetic_dir, synthetic_cov, mbtiles_file)
    client = login(app, "viewer")
    z = 13
    x, y = tile_range(BBOX, z)[0]
    con = sqlite3.connect(mbtiles_file)
    stored = con.execute(
        "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?", (z, x, (1 << z) - 1 - y)
    ).fetchone()[0]
    con.close()
    r = client.get(f"/basemap/{z}/{x}/{y}")
    assert r.status_code == 200 and r.data == stored
    assert r.mimetype == "image/png" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=86400" in r.headers["Cache-Control"] and "private" in r.headers["Cache-Control"]
    etag = r.headers["ETag"]
    assert etag
    r2 = client.get(f"/basemap/{z}/{x}/{y}", headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.data == b""
    # the TMS row itself, read as XYZ, is another (missing) tile
    assert client.get(f"/basemap/{z}/{x}/{(1 << z) - 1 - y}").status_code == 404
    # missing tiles: an empty 404, cacheable
    r = client.get("/basemap/13/0/0")
    assert r.status_code == 404 and r.data == b"" and "max-age" in r.headers["Cache-Control"]
    assert client.get("/basemap/3/1/1").status_code == 404  # outside the file's zooms
    assert client.head(f"/basemap/{z}/{x}/{y}").status_code == 200
    # anonymous readers are sent to the login page
    assert login(app, None).get(f"/basemap/{z}/{x}/{y}").status_code == 302


@pytest.mark.parametrize(
    "address",
    [
        "a/0/0",
        "1/0/b",
        "-1/0/0",
        "1/-1/0",
        "1/2/0",
        "1/0/2",
        "0/1/0",
        "31/0/0",
        "1.5/0/0",
        "1/0/0.png",
        "99999999999999999999/0/0",
        "%20/0/0",
        "1/0x1/0",
        "+1/0/0",
        "١/0/0",
        "nan/0/0",
        "1e308/0/0",
        "1/inf/0",
        "1/0/" + "9" * 1_000_000,
    ],
)
def test_bad_tile_addresses_are_400(web_store, synthetic_dir, synthetic_cov, mbtiles_file, address):
    app = _app(web_store, synthetic_dir, synthetic_cov, mbtiles_file)
    r = login(app, "admin").get(f"/basemap/{address}")
    assert r.status_code == 400, (address, r.status_code)


def test_no_basemap_no_tiles(client):
    assert client.get("/basemap/1/0/0").status_code == 404
    assert client.get("/basemap.pmtiles").status_code == 404
    assert client.get("/basemap/1/5/0").status_code == 400
    assert "basemap" not in _config(client)
    assert "protomaps" not in client.get("/map").get_data(as_text=True)


def test_map_page_with_mbtiles(web_store, synthetic_dir, synthetic_cov, mbtiles_file):
    client = login(_app(web_store, synthetic_dir, synthetic_cov, mbtiles_file), "admin")
    base = _config(client)["basemap"]
    assert base == {
        "kind": "mbtiles",
        "name": "Bến Tre (thử)",
        "format": "png",
        "vector": False,
        "bounds": list(BBOX),
        "minZoom": 12,
        "maxZoom": 14,
        "attribution": "© Sở TN&MT",
        "url": "/basemap/{z}/{x}/{y}",
    }
    resp = client.get("/map")
    assert "img-src 'self' data: blob:;" in resp.headers["Content-Security-Policy"]
    assert "protomaps" not in resp.get_data(as_text=True)  # raster: no vector renderer loaded


def test_pmtiles_served_by_range_requests(web_store, synthetic_dir, synthetic_cov, pmtiles_file):
    app = _app(web_store, synthetic_dir, synthetic_cov, pmtiles_file)
    client = login(app, "viewer")
    data = pmtiles_file.read_bytes()

    def get(rng=None):
        with client.get("/basemap.pmtiles", headers={"Range": rng} if rng else {}) as r:
            r.body = r.get_data()
            return r

    r = get("bytes=0-126")
    assert r.status_code == 206 and r.body == data[:127] and r.body.startswith(b"PMTiles\x03")
    assert r.headers["Content-Range"] == f"bytes 0-126/{len(data)}"
    assert r.headers["Accept-Ranges"] == "bytes" and r.headers["Content-Length"] == "127"
    assert r.headers["ETag"] and "private" in r.headers["Cache-Control"]
    # the browser's first read (16 KiB) of a smaller archive: the whole file, still 206
    r = get("bytes=0-16383")
    assert r.status_code == 206 and r.body == data
    r = get("bytes=200-299")
    assert r.status_code == 206 and r.body == data[200:300]
    r = get(f"bytes={len(data) + 10}-{len(data) + 20}")
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(data)}"
    r = get()
    assert r.status_code == 200 and r.body == data
    # vector tiles are drawn in the browser: no raster tile route
    x, y = tile_range(BBOX, 13)[0]
    assert client.get(f"/basemap/13/{x}/{y}").status_code == 404
    base = _config(client)["basemap"]
    assert base["vector"] and base["url"] == "/basemap.pmtiles" and (base["minZoom"], base["maxZoom"]) == (12, 14)
    html = client.get("/map").get_data(as_text=True)
    assert (
        '<script src="/static/vendor/protomaps-basemaps/basemaps.js"></script>\n'
        '<script src="/static/vendor/protomaps-leaflet/protomaps-leaflet.js"></script>'
    ) in html
    assert html.index("protomaps-leaflet.js") < html.index("/static/js/map.js")
    assert login(app, None).get("/basemap.pmtiles").status_code == 302


def test_basemap_from_env_and_bad_file_stops_the_app(
    monkeypatch, web_store, synthetic_dir, synthetic_cov, mbtiles_file, tmp_path
):
    from geo_antt.app import create_app

    monkeypatch.setenv("GEO_ANTT_BASEMAP", str(mbtiles_file))
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(synthetic_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "t",
        }
    )
    assert _config(login(app, "admin"))["basemap"]["kind"] == "mbtiles"
    bad = tmp_path / "x.mbtiles"
    bad.write_text("not tiles")
    with pytest.raises(GeoAnttError, match="not an MBTiles"):
        _app(web_store, synthetic_dir, synthetic_cov, bad)


def test_serve_basemap_option(monkeypatch, capsys, synthetic_dir, tmp_path, mbtiles_file):
    from geo_antt.cli import build_parser, main

    calls = {}
    import waitress

    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.update(app=app))
    monkeypatch.setattr("geo_antt.catalog.live._compute_coverage", lambda *a, **k: None)
    monkeypatch.setenv("GEO_ANTT_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.chdir(mbtiles_file.parent)
    db = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    assert main(["serve", "--data", str(synthetic_dir), "--db", db, "--basemap", mbtiles_file.name]) == 0
    calls["app"].extensions["geo_antt"].store.close()
    assert calls["app"].config["BASEMAP"] == str(mbtiles_file)
    assert build_parser().parse_args(["serve"]).basemap is None
    assert main(["serve", "--data", str(synthetic_dir), "--db", db, "--basemap", str(tmp_path / "none.pmtiles")]) == 1
    assert "cannot read the base-map file" in capsys.readouterr().err
