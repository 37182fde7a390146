"""OGC API - Features Part 2 (CRS by reference): ``crs``, ``bbox-crs``, ``Content-Crs``,
``storageCrs``/``crs`` per collection, and GDAL reading a collection in VN-2000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from geo_antt.catalog import CRS84, parse_crs_uri, supported_crs_uris
from geo_antt.crs import VN2000_CRS
from tests.web_fixtures import WEB_USERS, synthetic_models, synthetic_units

MODELS = synthetic_models()
UNITS = synthetic_units()
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
CRS_CONF = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"


def _coords(fc: dict) -> dict[str, np.ndarray]:
    return {f["id"]: shapely.get_coordinates(shape(f["geometry"])) for f in fc["features"]}


def _expected(frame, epsg: int) -> dict[str, np.ndarray]:
    t = Transformer.from_crs(4326, epsg, always_xy=True)
    out = {}
    for fid, g in zip(frame.index, frame.geometry):
        xy = shapely.get_coordinates(g)
        x, y = t.transform(xy[:, 0], xy[:, 1])
        out[str(fid)] = np.column_stack([x, y])
    return out


def test_conformance_and_collection_crs_lists(client):
    assert CRS_CONF in client.get("/conformance").get_json()["conformsTo"]
    doc = client.get("/collections/communes").get_json()
    assert doc["storageCrs"] == CRS84 and doc["crs"][0] == CRS84
    for code in (4326, 32648, 32649, 3405, 3406, *range(5896, 5900), *range(9205, 9219)):
        assert EPSG.format(code) in doc["crs"]
    assert set(VN2000_CRS) <= {int(u.rsplit("/", 1)[1]) for u in doc["crs"][1:]}
    assert all(c["crs"] == doc["crs"] for c in client.get("/collections").get_json()["collections"])


def test_default_is_crs84_with_the_header(client):
    r = client.get("/collections/camera/items")
    assert r.headers["Content-Crs"] == f"<{CRS84}>"
    fid = r.get_json()["features"][0]["id"]
    assert client.get(f"/collections/camera/items/{fid}").headers["Content-Crs"] == f"<{CRS84}>"


@pytest.mark.parametrize("epsg", [32648, 3405, 9210, 5897])
def test_projected_output_matches_pyproj_to_a_millimetre(client, epsg):
    r = client.get(f"/collections/communes/items?crs={EPSG.format(epsg)}")
    assert r.status_code == 200 and r.headers["Content-Crs"] == f"<{EPSG.format(epsg)}>"
    got, want = _coords(r.get_json()), _expected(UNITS[UNITS["level"] == "commune"], epsg)
    assert got.keys() == want.keys()
    for fid in got:
        np.testing.assert_allclose(got[fid], want[fid], rtol=0, atol=1e-3)
        assert all(round(v, 3) == v for v in got[fid].ravel().tolist())  # 3 decimals = 1 mm
    one = client.get(f"/collections/communes/items/28903?crs=EPSG:{epsg}")
    assert one.headers["Content-Crs"] == f"<{EPSG.format(epsg)}>"
    np.testing.assert_allclose(shapely.get_coordinates(shape(one.get_json()["geometry"])), want["28903"], atol=1e-3)


def test_epsg_4326_is_latitude_first(client):
    cam = MODELS[MODELS["kind"] == "camera"]
    r = client.get(f"/collections/camera/items?crs={EPSG.format(4326)}")
    for f in r.get_json()["features"]:
        lat, lon = f["geometry"]["coordinates"]
        p = cam.geometry[f["id"]]
        assert (lon, lat) == pytest.approx((p.x, p.y), abs=1e-7)


def test_bbox_crs(client):
    """A bbox in VN-2000 metres and in EPSG:4326 (lat/lon order) selects as the same box in CRS84."""
    cam = MODELS[MODELS["kind"] == "camera"]
    minx, miny, maxx, maxy = cam.total_bounds
    midx = (minx + maxx) / 2
    want = {
        f["id"]
        for f in client.get(
            f"/collections/camera/items?bbox={minx - 1e-4},{miny - 1e-4},{midx},{maxy + 1e-4}"
        ).get_json()["features"]
    }
    assert 0 < len(want) < len(cam)
    latlon = client.get(
        f"/collections/camera/items?bbox={miny - 1e-4},{minx - 1e-4},{maxy + 1e-4},{midx}&bbox-crs={EPSG.format(4326)}"
    ).get_json()
    assert {f["id"] for f in latlon["features"]} == want
    # the same box in VN-2000 / TM-3 105-45: its projected corners, a little wider (the
    # projected box is not a lon/lat box, so compare with what it covers in lon/lat)
    t = Transformer.from_crs(4326, 9210, always_xy=True)
    xs, ys = t.transform([minx, midx, minx, midx], [miny, miny, maxy, maxy])
    box_m = (min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1)
    r = client.get("/collections/camera/items?bbox=" + ",".join(map(str, box_m)) + "&bbox-crs=EPSG:9210").get_json()
    inside = {
        fid
        for fid, p in cam.geometry.items()
        if box_m[0] <= t.transform(p.x, p.y)[0] <= box_m[2] and box_m[1] <= t.transform(p.x, p.y)[1] <= box_m[3]
    }
    assert {f["id"] for f in r["features"]} == inside and want <= inside


@pytest.mark.parametrize(
    "query, named",
    [
        ("crs=EPSG:3857", "EPSG:3857"),
        ("crs=http://www.opengis.net/def/crs/EPSG/0/2154", "2154"),
        ("bbox-crs=EPSG:27700&bbox=1,2,3,4", "EPSG:27700"),
        ("crs=nonsense", "nonsense"),
        ("bbox-crs=EPSG:9210&bbox=1,2,3", "bbox"),
        ("bbox-crs=EPSG:9210&bbox=3,2,1,4", "bbox"),
        # boxes GEOS cannot densify (the fuzz test found the first): 400, never 500
        ("bbox-crs=EPSG:32648&bbox=0,0,1e-300,1e300", "bbox"),
        ("bbox-crs=EPSG:32648&bbox=1e300,0,1.0000001e300,1", "bbox"),
    ],
)
def test_unsupported_crs_is_400_naming_it(client, query, named):
    r = client.get(f"/collections/camera/items?{query}")
    assert r.status_code == 400 and named in r.get_json()["message"], r.get_data(as_text=True)
    if query.startswith("crs="):
        fid = MODELS.index[MODELS["kind"] == "camera"][0]
        assert client.get(f"/collections/camera/items/{fid}?{query}").status_code == 400


def test_parse_crs_uri_forms():
    assert parse_crs_uri(None).is_crs84 and parse_crs_uri("[OGC:CRS84]").is_crs84
    assert parse_crs_uri("[EPSG:9210]").epsg == 9210 == parse_crs_uri(EPSG.format(9210)).epsg
    assert parse_crs_uri("EPSG:4326").lat_first and not parse_crs_uri("EPSG:32648").lat_first
    assert parse_crs_uri("EPSG:32648").decimals == 3 and parse_crs_uri("EPSG:4326").decimals == 7
    assert len(supported_crs_uris()) == 1 + 3 + len(VN2000_CRS)


_GDAL_READ = """
import json, sys
import pyogrio
layer_url = sys.argv[1]
df = pyogrio.read_dataframe("OAPIF:" + layer_url, CRS="EPSG:9210")
print(json.dumps({"crs": df.crs.to_epsg(), "features": [{"code": c, "wkt": g.wkt} for c, g in zip(df["code"], df.geometry)]}))
"""


def test_gdal_reads_a_collection_in_vn2000(live_server, web_store, app, caplog):
    """GDAL's OAPIF driver with ``CRS=EPSG:9210`` (VN-2000 / TM-3 105-45) gets coordinates equal
    to pyproj's transformation to 1 mm (the bearer token through ``GDAL_HTTP_AUTH=BEARER``). Debian's ``ogrinfo`` is GDAL 3.6, whose OAPIF driver has
    no CRS option yet (3.7+), so this is the GDAL of pyogrio's wheel (3.12), in a child process
    (the server answers from this one).
    """
    token = web_store.create_token(WEB_USERS["admin"][0], label="gdal", user=None)
    env = {**os.environ, "GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token, "GDAL_HTTP_TIMEOUT": "20"}
    out = subprocess.run(
        [sys.executable, "-c", _GDAL_READ, f"{live_server}/collections/communes"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    assert got["crs"] == 9210
    # the server did the reprojection (GDAL asked for the features in that CRS; its first,
    # short request only probes the schema), not GDAL
    asked = [r.getMessage() for r in caplog.records if "/collections/communes/items" in r.getMessage()]
    assert any("crs=http://www.opengis.net/def/crs/EPSG/0/9210" in m for m in asked), asked
    communes = UNITS[UNITS["level"] == "commune"]
    want = _expected(communes, 9210)
    by_code = {f["code"]: shapely.get_coordinates(shapely.from_wkt(f["wkt"])) for f in got["features"]}
    assert by_code.keys() == want.keys()
    for code, xy in by_code.items():
        np.testing.assert_allclose(xy, want[code], rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    "query",
    [
        "limit=",
        "offset=",
        "bbox=",
        "crs=",
        "bbox-crs=",
        "filter-crs=",
        "filter-lang=",
        "filter-lang=&filter=kind%20%3D%20%27camera%27",
    ],
)
def test_an_empty_parameter_is_400_not_the_default(client, query):
    """The OpenAPI document's schemas allow no empty value for these (Schemathesis' negative
    cases): an empty one is a client error, not silently the default.
    """
    r = client.get(f"/collections/coverage/items?{query}")
    assert r.status_code == 400, (query, r.get_data(as_text=True))
