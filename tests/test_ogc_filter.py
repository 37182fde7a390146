"""OGC API - Features Part 3: ``filter`` in CQL2 text and JSON, ``filter-crs``, queryables.

Every filter is checked against pandas' (or shapely's) own selection over the unfiltered
features the same account gets.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from tests.web_fixtures import login


def _get(c, path: str) -> dict:
    r = c.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)
    return json.loads(r.get_data(as_text=True))


def _frame(c, cid: str) -> pd.DataFrame:
    fc = _get(c, f"/collections/{cid}/items?limit=10000")
    df = pd.DataFrame([f["properties"] for f in fc["features"]], index=[f["id"] for f in fc["features"]])
    df["geometry"] = [shape(f["geometry"]) for f in fc["features"]]
    return df


def _ids(c, cid: str, query: str) -> set[str]:
    fc = _get(c, f"/collections/{cid}/items?limit=10000&{query}")
    assert fc["numberMatched"] == fc["numberReturned"] == len(fc["features"])
    return {f["id"] for f in fc["features"]}


@pytest.mark.parametrize(
    "cid, cql, pick",
    [
        (
            "camera",
            "status = 'active' AND kind = 'camera'",
            lambda d: (d["status"] == "active") & (d["kind"] == "camera"),
        ),
        ("camera", "status <> 'active' OR range_m > 40", lambda d: (d["status"] != "active") | (d["range_m"] > 40)),
        ("coverage", "covered_pct < 5", lambda d: d["covered_pct"] < 5),
        ("coverage", "covered_pct >= 5 AND covered_pct <= 50", lambda d: d["covered_pct"].between(5, 50)),
        (
            "hamlets",
            "name LIKE 'Ấp%' AND parent_code IN ('28903')",
            lambda d: d["name"].str.startswith("Ấp") & (d["parent_code"] == "28903"),
        ),
        ("camera", "NOT (status = 'active')", lambda d: ~(d["status"] == "active")),
    ],
)
def test_a_property_filter_returns_what_pandas_picks(client, cid, cql, pick):
    d = _frame(client, cid)
    want = set(d.index[pick(d).fillna(False).astype(bool)])
    assert _ids(client, cid, "filter=" + quote(cql)) == want
    assert 0 < len(want) or cid == "coverage"


def test_cql2_json_is_the_same_filter(client):
    d = _frame(client, "camera")
    want = set(d.index[(d["status"] == "active") & (d["kind"] == "camera")])
    expr = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "status"}, "active"]},
            {"op": "=", "args": [{"property": "kind"}, "camera"]},
        ],
    }
    assert _ids(client, "camera", "filter-lang=cql2-json&filter=" + quote(json.dumps(expr))) == want


@pytest.mark.parametrize("cid", ["camera", "gaps", "hamlets"])
def test_s_intersects_with_a_polygon_literal(client, cid):
    d = _frame(client, cid)
    minx, miny, maxx, maxy = shapely.total_bounds(d["geometry"].to_numpy())
    tri = shapely.Polygon([(minx, miny), (maxx, miny), (minx, maxy)])
    want = set(d.index[shapely.intersects(d["geometry"].to_numpy(), tri)])
    assert 0 < len(want) <= len(d)
    assert _ids(client, cid, "filter=" + quote(f"S_INTERSECTS(geometry, {tri.wkt})")) == want
    js = {"op": "s_intersects", "args": [{"property": "geometry"}, shapely.geometry.mapping(tri)]}
    assert _ids(client, cid, "filter-lang=cql2-json&filter=" + quote(json.dumps(js))) == want
    # the same triangle in VN-2000 / TM-3 105-45 metres (filter-crs): moved back vertex by vertex
    t = Transformer.from_crs(4326, 9210, always_xy=True)
    tri_m = shapely.transform(tri, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    back = Transformer.from_crs(9210, 4326, always_xy=True)
    tri_back = shapely.transform(tri_m, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    want_m = set(d.index[shapely.intersects(d["geometry"].to_numpy(), tri_back)])
    got = _ids(client, cid, "filter-crs=EPSG:9210&filter=" + quote(f"S_INTERSECTS(geometry, {tri_m.wkt})"))
    assert got == want_m


def test_filter_and_bbox_and_paging(client):
    d = _frame(client, "camera")
    active = d[d["status"] == "active"]
    fc = _get(client, "/collections/camera/items?limit=2&filter=" + quote("status = 'active'"))
    assert fc["numberMatched"] == len(active) and fc["numberReturned"] == 2
    nxt = next(link["href"] for link in fc["links"] if link["rel"] == "next")
    assert "filter=" in nxt


def test_a_filter_never_widens_the_scope(app):
    admin, officer = login(app, "admin"), login(app, "officer")
    every = set(_frame(admin, "camera").index)
    mine = set(_frame(officer, "camera").index)
    assert mine < every
    assert _ids(officer, "camera", "filter=" + quote("kind = 'camera' OR status <> 'x'")) == mine
    assert (
        _ids(
            officer, "camera", "filter=" + quote("S_INTERSECTS(geometry, POLYGON((90 0, 120 0, 120 30, 90 30, 90 0)))")
        )
        == mine
    )


@pytest.mark.parametrize(
    "query, named",
    [
        ("filter=" + quote("nope = 1"), "nope"),
        ("filter=" + quote("status = "), "cql2-text"),
        ("filter=" + quote("kind < 5"), "evaluated"),
        ("filter=" + quote("foo(kind) = 1"), "foo"),
        ("filter-lang=cql2-json&filter=" + quote("{not json"), "cql2-json"),
        ("filter-lang=cql2-json&filter=" + quote(json.dumps({"op": "nope", "args": []})), "cql2-json"),
        ("filter-lang=ecql&filter=" + quote("a = 1"), "ecql"),
        ("filter-crs=EPSG:3857&filter=" + quote("S_INTERSECTS(geometry, POINT(1 2))"), "EPSG:3857"),
        ("filter=" + quote("S_INTERSECTS(geometry, POLYGON((1 2, 3 4)))"), "filter"),
        ("filter=", "filter"),
    ],
)
def test_bad_filters_are_400_naming_the_problem(client, query, named):
    r = client.get(f"/collections/camera/items?{query}")
    assert r.status_code == 400, r.get_data(as_text=True)
    assert named in r.get_json()["message"], r.get_json()


def test_queryables(client):
    r = client.get("/collections/coverage/queryables")
    assert r.status_code == 200 and r.mimetype == "application/schema+json"
    q = json.loads(r.get_data(as_text=True))
    assert q["type"] == "object" and q["properties"]["covered_pct"]["type"] == "number"
    assert q["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
    cam = json.loads(client.get("/collections/camera/queryables").get_data(as_text=True))["properties"]
    assert (
        cam["status"]["type"] == "string"
        and cam["kind"]["type"] == "string"
        and cam["geometry"]["format"] == "geometry-point"
    )
    assert "direction_deg" not in cam  # lists are not queryable
    links = client.get("/collections/camera").get_json()["links"]
    assert any(link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables" for link in links)
    assert client.get("/collections/self_management/queryables").status_code == 404
    conf = client.get("/conformance").get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in conf
