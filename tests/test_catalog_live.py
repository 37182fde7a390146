"""The catalog that follows the store (geo_antt.catalog.live): every update equals a full rebuild
(demo data and the synthetic case, both store backends), old catalogs stay as they were, and
readers during updates see one whole catalog, old or new.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import shapely.affinity

from geo_antt.catalog.live import build_catalog, update_catalog
from geo_antt.config import DEFAULT_SETTINGS
from geo_antt.layers import load_layer_specs
from geo_antt.store import Store, seed_from_dataset
from tests.storehelp import CHEAP_HASHER
from tests.web_fixtures import login

ROOT = Path(__file__).resolve().parent.parent
SPECS = load_layer_specs()
REL = 1e-6


# -- comparing two catalogs -----------------------------------------------------------------------


def _close(a, b, *, what: str) -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, what
        assert a == pytest.approx(b, rel=REL, abs=1e-6), what
    else:
        assert a == b, what


def assert_same_catalog(inc, full) -> None:
    """``inc`` (updated) holds what ``full`` (built from scratch) holds: models, footprints and
    units feature for feature, coverage figures and gap areas within 1e-6 relative.
    """
    assert list(inc.collections) == list(full.collections)
    for cid, fc in full.collections.items():
        ic = inc.collections[cid]
        assert len(ic) == len(fc), cid
        a, b = list(ic.features), list(fc.features)
        assert list(ic.keys) == list(fc.keys) or cid not in ("coverage",), cid
        if cid in ("coverage", "gaps"):
            for x, y in zip(a, b):
                if x == y:
                    continue
                fx, fy = json.loads(x), json.loads(y)
                assert fx["id"] == fy["id"], cid
                for k in fy["properties"]:
                    _close(fx["properties"][k], fy["properties"][k], what=f"{cid} {fy['id']} {k}")
                gx, gy = (
                    shapely.from_geojson(json.dumps(fx["geometry"])),
                    shapely.from_geojson(json.dumps(fy["geometry"])),
                )
                assert gx.area == pytest.approx(gy.area, rel=REL), f"{cid} {fy['id']} geometry"
                assert shapely.symmetric_difference(gx, gy).area <= REL * max(gy.area, 1e-12), f"{cid} {fy['id']}"
        else:
            assert a == b, cid  # models, footprints, units: the very same GeoJSON texts
        assert list(ic.unit_codes) == list(fc.unit_codes), cid
        assert ic.extent == fc.extent, cid
        assert len(ic.frame) == len(fc.frame) and list(ic.frame.index) == list(fc.frame.index), cid
    # the models table and its unit links
    assert list(inc.models.index) == list(full.models.index)
    assert inc.models.drop(columns="geometry").astype(str).equals(full.models.drop(columns="geometry").astype(str))
    assert all(
        shapely.equals_exact(inc.models.geometry.to_numpy(), full.models.geometry.to_numpy(), 0)
        | (inc.models.geometry.isna() & full.models.geometry.isna()).to_numpy()
    )
    assert inc.model_links.equals(full.model_links)
    # the figures of the stats page: the whole area and one commune
    commune = full.units.index[full.units["level"] == "commune"][0]
    for code in (None, commune):
        si, sf = inc.stats(code), full.stats(code)
        cov_i, cov_f = si.pop("coverage"), sf.pop("coverage")
        least_i, least_f = si.pop("least_covered"), sf.pop("least_covered")
        assert si == sf
        for k in cov_f:
            _close(cov_i[k], cov_f[k], what=f"stats {code} {k}")
        assert [d["code"] for d in least_i] == [d["code"] for d in least_f]
        for x, y in zip(least_i, least_f):
            _close(x["covered_pct"], y["covered_pct"], what=f"least covered {y['code']}")


def _texts(cat) -> dict[str, list[str]]:
    return {cid: list(c.features) for cid, c in cat.collections.items()}


class Follower:
    """A catalog that follows ``store`` model by model, checked against a full rebuild."""

    def __init__(self, store: Store, *, compact_every: int = 0, roads: bool = False, buildings: bool = False) -> None:
        self.store, self.compact_every, self.steps, self.roads = store, compact_every, 0, roads
        self.buildings = buildings
        self.gen = store.generation()
        self.cat = self.full()
        assert self.cat._live is not None

    def full(self):
        roads = self.store.context_frame("roads", merged=True) if self.roads else None
        buildings = self.store.context_frame("buildings", merged=True) if self.buildings else None
        return build_catalog(
            self.store.units_frame(),
            self.store.models_frame(),
            specs=SPECS,
            settings=DEFAULT_SETTINGS,
            roads=roads,
            buildings=buildings,
        )

    def step(self, *, expect_incremental: bool = True) -> None:
        ch = self.store.changes_since(self.gen)
        assert not ch.reload and len(ch.models)
        before = _texts(self.cat)
        self.steps += 1
        compact = bool(self.compact_every) and self.steps % self.compact_every == 0
        new = update_catalog(self.cat, ch.models, compact_above=0 if compact else 4000)
        assert _texts(self.cat) == before  # the old catalog is left as it was
        if not expect_incremental:
            assert new is None
            new = self.full()
        assert new is not None
        assert_same_catalog(new, self.full())
        self.cat, self.gen = new, ch.generation


def _moved(store: Store, mid: str, dx: float, dy: float, **changes) -> None:
    rec = store.get_model(mid)
    p = rec["geometry"]
    store.update_model(
        mid, {"geometry": shapely.Point(p.x + dx, p.y + dy), **changes}, expected_version=rec["version"], user=None
    )


def _update(store: Store, mid: str, **changes) -> None:
    store.update_model(mid, changes, expected_version=store.get_model(mid)["version"], user=None)


def _import(store: Store, rows: list[dict], unit_code: str) -> None:
    gdf = gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "geometry"} for r in rows],
        geometry=[r.get("geometry") for r in rows],
        crs="EPSG:4326",
    )
    preview = store.preview_import(gdf, user=None, unit_code=unit_code)
    assert not preview.rejected, preview.rejected
    store.commit_import(preview, user=None)


# -- the demo data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_store_file(tmp_path_factory) -> Path:
    if not (ROOT / "data" / "dataset.toml").is_file():
        pytest.fail("the demo data folder data/ is missing")
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    with Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER) as store:
        seed_from_dataset(store, ROOT / "data", echo=lambda line: None)
    return path


@pytest.fixture()
def demo_store(tmp_path, demo_store_file):
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(demo_store_file, path)
    with Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER) as store:
        yield store


def test_updates_equal_a_full_rebuild_on_the_demo_data(demo_store):
    store = demo_store
    f = Follower(store)
    m = store.models_frame()
    hamlets = store.units_frame().query("level == 'hamlet'")
    cams = m[(m["kind"] == "camera") & (m["status"] == "active") & m.geometry.notna()].index
    lights = m[(m["kind"] == "lighting") & (m["status"] == "active") & m.geometry.notna()].index

    _moved(store, cams[0], 0.0004, -0.0003, direction_deg=(200.0,))  # move + rotate
    f.step()
    _update(store, cams[1], direction_deg=(10.0, 190.0), range_m=80.0)  # two sectors, longer range
    h = hamlets.iloc[len(hamlets) // 2]
    p = h.geometry.representative_point()
    store.create_model(
        {
            "id": f"{cams[2]}-b",
            "kind": "camera",
            "name": "Camera mới",
            "status": "active",
            "unit_code": h["code"],
            "direction_deg": (90.0,),
            "fov_deg": 90.0,
            "range_m": 40.0,
            "geometry": p,
        },
        user=None,
    )  # an id sorting in the middle of the others
    f.step()
    store.retire_model(cams[3], expected_version=store.get_model(cams[3])["version"], user=None)
    _update(
        store, cams[4], kind="checkpoint", direction_deg=(), fov_deg=None, range_m=None, radius_m=60.0
    )  # kind change
    f.step()
    _update(store, lights[0], name="Đèn đã đổi tên", notes="chỉ đổi tên")  # no coverage field
    store.create_model(
        {
            "id": "tq-moi",
            "kind": "self_management",
            "name": "Tổ tự quản mới",
            "status": "active",
            "unit_code": h["code"],
        },
        user=None,
    )
    f.step()
    # an import: new cameras and moved lights of one commune, in one transaction
    commune = h["parent_code"]
    inside = hamlets[hamlets["parent_code"] == commune]
    rows = []
    for i, (code, hr) in enumerate(inside.iterrows()):
        q = hr.geometry.representative_point()
        rows.append(
            {
                "id": f"imp-{i:03d}",
                "kind": "camera",
                "name": f"Camera nhập {i}",
                "status": "active",
                "unit_code": code,
                "direction_deg": [float(37 * i % 360)],
                "fov_deg": 70.0,
                "range_m": 50.0,
                "geometry": shapely.Point(q.x + 0.0001, q.y),
            }
        )
    for mid in m[(m["kind"] == "lighting") & (m["unit_code"].isin(inside.index))].index[:5]:
        r = store.get_model(mid)
        rows.append(
            {k: r[k] for k in ("id", "kind", "name", "status", "unit_code", "radius_m")}
            | {"geometry": shapely.affinity.translate(r["geometry"], 0.0002, 0.0)}
        )  # points and lines
    _import(store, rows, commune)
    f.step()
    _update(store, cams[3], status="active")  # back in service
    f.step()


def test_street_figures_follow_the_models_too(demo_store):
    """With the store's roads (a street grid over two communes), the catalog's coverage units
    carry street figures, and moving, adding and retiring cameras keeps them equal to a full
    rebuild's.
    """
    import numpy as np

    store = demo_store
    units = store.units_frame()
    m = store.models_frame()
    cams = m[(m["kind"] == "camera") & (m["status"] == "active") & m.geometry.notna()]
    communes = units.loc[units.index.isin(units.loc[cams["unit_code"], "parent_code"].dropna().unique())]
    communes = communes.iloc[:2]
    lines = []
    for _, c in communes.iterrows():
        x0, y0, x1, y1 = c.geometry.bounds
        lines += [shapely.LineString([(x, y0), (x, y1)]) for x in np.linspace(x0, x1, 25)]
        lines += [shapely.LineString([(x0, y), (x1, y)]) for y in np.linspace(y0, y1, 25)]
    grid = gpd.GeoDataFrame(
        {
            "osm_id": [f"w{i}" for i in range(len(lines))],
            "highway": "residential",
            "name": [f"Đường số {i}" for i in range(len(lines))],
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    store.load_context("roads", grid, unit_codes=list(communes.index), user=None)
    f = Follower(store, roads=True)
    props = [json.loads(x)["properties"] for x in f.cat.collections["coverage"].features]
    with_roads = [p for p in props if p.get("road_m")]
    assert with_roads and all(p["road_covered_m"] <= p["road_m"] + 1e-6 for p in with_roads)
    inside = cams[cams["unit_code"].isin(units.index[units["parent_code"].isin(communes.index)])].index
    # a camera stood on a street of the grid, another turned, one retired
    _moved(store, inside[0], 0.0, 0.0, range_m=120.0)
    f.step()
    _update(store, inside[1], direction_deg=(0.0, 180.0))
    store.retire_model(inside[2], expected_version=store.get_model(inside[2])["version"], user=None)
    f.step()
    after = {json.loads(x)["id"]: json.loads(x)["properties"] for x in f.cat.collections["coverage"].features}
    assert sum(p.get("road_covered_m") or 0 for p in after.values()) != pytest.approx(
        sum(p.get("road_covered_m") or 0 for p in props)
    )  # the edits moved the street figures
    # the panel's figure and its least-covered list measure streets where they are known, ranked
    # by the rule of rank_uncovered (the CLI's and the report's ranking)
    from geo_antt.placement import rank_uncovered

    commune = communes.index[0]
    st = f.cat.stats(commune, ranked_limit=1000)
    assert st["coverage"]["measure"] == "street" and st["coverage"]["road_m"] > 0
    cu = f.cat.coverage_units
    hamlets = cu[cu.index.isin(units.index[units["parent_code"] == commune])]
    expected = list(rank_uncovered(hamlets, by="street").index)
    assert [h["code"] for h in st["least_covered"]] == expected
    first = st["least_covered"][0]
    assert first["measure"] == "street" and first["road_covered_pct"] == pytest.approx(
        100
        * min(hamlets.at[first["code"], "road_covered_m"], hamlets.at[first["code"], "road_m"])
        / hamlets.at[first["code"], "road_m"]
    )


def test_visible_footprints_follow_the_models_with_buildings(demo_store):
    """With the store's buildings (houses around every camera of two communes), the catalog's
    footprints are the visible ones and its coverage units carry building_m2 and open_m2;
    moving and turning a camera (the map editor's edits) and retiring one keep every feature equal
    to a full rebuild's, and the moved camera's footprint is cut by the house it now faces.
    """
    import numpy as np

    store = demo_store
    units = store.units_frame()
    m = store.models_frame()
    cams = m[(m["kind"] == "camera") & (m["status"] == "active") & m.geometry.notna()]
    communes = units.loc[units.index.isin(units.loc[cams["unit_code"], "parent_code"].dropna().unique())].iloc[:2]
    inside = cams[cams["unit_code"].isin(units.index[units["parent_code"].isin(communes.index)])]
    lat = float(inside.geometry.y.mean())
    mx, my = 1 / (111_320.0 * np.cos(np.radians(lat))), 1 / 110_574.0  # degrees per metre
    houses = []
    for p in inside.geometry:  # four 8 m x 8 m houses 12 m north, south, east and west of each camera
        for dx, dy in ((0, 12), (0, -12), (12, 0), (-12, 0)):
            cx, cy = p.x + dx * mx, p.y + dy * my
            houses.append(shapely.box(cx - 4 * mx, cy - 4 * my, cx + 4 * mx, cy + 4 * my))
    frame = gpd.GeoDataFrame(
        {"osm_id": [f"b{i}" for i in range(len(houses))], "building": "house"}, geometry=houses, crs="EPSG:4326"
    )
    store.load_context("buildings", frame, unit_codes=list(communes.index), user=None)
    f = Follower(store, buildings=True)
    props = {json.loads(x)["id"]: json.loads(x)["properties"] for x in f.cat.collections["coverage"].features}
    assert any(p.get("building_m2") for p in props.values())
    assert all(p["covered_m2"] <= p["open_m2"] + 1e-6 for p in props.values() if "open_m2" in p)
    fp = f.cat.collections["footprints"].frame
    cam = inside.index[0]
    before = float(fp.loc[cam].geometry.area)
    # moved 2 m west and turned to face its western house: the house hides most of the sector
    _moved(store, cam, -2 * mx, 0.0, direction_deg=(270.0,), range_m=40.0)
    f.step()
    seen = f.cat.collections["footprints"].frame.loc[cam]
    full_sector = np.pi * 40.0**2 * float(SPECS["camera"].defaults["fov_deg"]) / 360.0
    assert seen["area_m2"] < 0.5 * full_sector
    assert float(seen.geometry.area) != pytest.approx(before)
    _update(store, inside.index[1], direction_deg=(45.0, 225.0))
    store.retire_model(inside.index[2], expected_version=store.get_model(inside.index[2])["version"], user=None)
    f.step()


def test_moving_a_camera_among_buildings_again_and_again_equals_a_full_rebuild(demo_store):
    """The map editor's drags: one camera moved and turned five times next to houses (its
    neighbours' kept footprints reused by every update, its own made again each time), then a
    neighbour turned: every update's visible footprints and per-hamlet covered_m2 equal a full
    ``build_catalog``'s.
    """
    import numpy as np

    store = demo_store
    units = store.units_frame()
    m = store.models_frame()
    cams = m[(m["kind"] == "camera") & (m["status"] == "active") & m.geometry.notna()]
    commune = units.loc[units.index.isin(units.loc[cams["unit_code"], "parent_code"].dropna().unique())].iloc[:1]
    inside = cams[cams["unit_code"].isin(units.index[units["parent_code"].isin(commune.index)])]
    lat = float(inside.geometry.y.mean())
    mx, my = 1 / (111_320.0 * np.cos(np.radians(lat))), 1 / 110_574.0
    houses = []
    for p in inside.geometry:  # two houses beside each camera, one of them overlapping a third
        for dx, dy in ((10, 6), (-14, -3)):
            cx, cy = p.x + dx * mx, p.y + dy * my
            houses.append(shapely.box(cx - 5 * mx, cy - 3 * my, cx + 5 * mx, cy + 3 * my))
        houses.append(shapely.box(p.x + 12 * mx, p.y + 4 * my, p.x + 20 * mx, p.y + 12 * my))
    frame = gpd.GeoDataFrame(
        {"osm_id": [f"b{i}" for i in range(len(houses))], "building": "house"}, geometry=houses, crs="EPSG:4326"
    )
    store.load_context("buildings", frame, unit_codes=list(commune.index), user=None)
    f = Follower(store, buildings=True)
    cam = inside.index[0]
    for k, (dx, dy, deg) in enumerate(((3, 1, 0.0), (2, -2, 60.0), (-4, 1, 120.0), (1, 3, 200.0), (-2, -2, 300.0))):
        _moved(store, cam, dx * mx, dy * my, direction_deg=(deg,))
        f.step()
        full = f.full()
        a = f.cat.collections["footprints"].frame.loc[cam]
        b = full.collections["footprints"].frame.loc[cam]
        assert float(a["area_m2"]) == pytest.approx(float(b["area_m2"]), rel=1e-6), k
        assert shapely.symmetric_difference(a.geometry, b.geometry).area <= 1e-6 * max(b.geometry.area, 1e-9), k
        ci = f.cat.collections["coverage"].frame["covered_m2"]
        cf = full.collections["coverage"].frame["covered_m2"].reindex(ci.index)
        assert np.allclose(ci.to_numpy(dtype=float), cf.to_numpy(dtype=float), rtol=1e-6, atol=1e-6), k
    _update(store, inside.index[1], direction_deg=(90.0,))
    f.step()


def test_a_camera_moved_outside_every_unit_keeps_its_walls(demo_store):
    """A camera put outside every unit (no unit's figures are recomputed for it), among houses
    that lie outside every unit too (a dataset's buildings are not clipped to the units), still
    gets its visible footprint as a full build makes it: the incremental update used to give it
    the plain sector.
    """
    import numpy as np

    store = demo_store
    units = store.units_frame()
    m = store.models_frame()
    cam = m[(m["kind"] == "camera") & (m["status"] == "active") & m.geometry.notna()].index[0]
    minx, miny, maxx, maxy = units.total_bounds
    x, y = maxx + 0.05, (miny + maxy) / 2  # about 5 km east of every unit
    mx, my = 1 / (111_320.0 * np.cos(np.radians(y))), 1 / 110_574.0
    houses = [shapely.box(x + dx * mx, y - 30 * my, x + (dx + 8) * mx, y + 30 * my) for dx in (6, -14)]
    frame = gpd.GeoDataFrame({"osm_id": ["e1", "w1"], "building": "house"}, geometry=houses, crs="EPSG:4326")

    def full():
        return build_catalog(
            store.units_frame(), store.models_frame(), specs=SPECS, settings=DEFAULT_SETTINGS, buildings=frame
        )

    cat, gen = full(), store.generation()
    rec = store.get_model(cam)
    store.update_model(
        cam,
        {"geometry": shapely.Point(x, y), "direction_deg": (90.0,), "range_m": 40.0, "fov_deg": 90.0},
        expected_version=rec["version"],
        user=None,
    )
    new = update_catalog(cat, store.changes_since(gen).models)
    assert new is not None
    rebuilt = full()
    assert_same_catalog(new, rebuilt)
    fp = new.collections["footprints"].frame.loc[cam]
    # the house 6 m east hides most of the quarter disc facing it
    assert float(fp["area_m2"]) < 0.3 * np.pi * 40.0**2 / 4
    assert float(fp["area_m2"]) == pytest.approx(float(rebuilt.collections["footprints"].frame.loc[cam, "area_m2"]))


# -- the synthetic case, both backends --------------------------------------------------------------


def test_updates_equal_a_full_rebuild_on_the_synthetic_case(store_url, synthetic_dir):
    with Store.open(store_url, password_hasher=CHEAP_HASHER) as store:
        seed_from_dataset(store, synthetic_dir, echo=lambda line: None)
        f = Follower(store, compact_every=2)  # every other update compacts the collections
        _moved(store, "CAM002", 0.0005, 0.0004, direction_deg=(300.0,))  # crosses into the next hamlet
        f.step()
        other = "28903-02" if store.get_model("CAM002")["unit_code"] != "28903-02" else "28903-01"
        _update(store, "CAM002", unit_code=other)  # only its unit: the unit links and counts follow
        f.step()
        store.create_model(
            {
                "id": "CAM0025",
                "kind": "camera",
                "name": "Giữa hai ấp",
                "status": "active",
                "unit_code": "28903-01",
                "direction_deg": (180.0,),
                "fov_deg": 120.0,
                "range_m": 70.0,
                "geometry": shapely.Point(106.302, 10.102),
            },
            user=None,
        )  # on the hamlets' border
        f.step()
        store.retire_model("LIGHT-28891-01", expected_version=1, user=None)
        f.step()
        _update(store, "TQ1", unit_code="28891-02")  # a non-spatial model moves to another hamlet
        f.step()
        _update(store, "CAM003", kind="lighting", direction_deg=(), fov_deg=None, range_m=None, radius_m=30.0)
        f.step()
        # a non-spatial kind that was absent: a new collection, so a full rebuild
        store.create_model(
            {"id": "KHAC1", "kind": "other", "name": "Mô hình khác", "status": "active", "unit_code": "28903-01"},
            user=None,
        )
        f.step(expect_incremental=False)


def test_a_catalog_given_its_coverage_is_rebuilt_whole(web_store, synthetic_cov):
    cat = build_catalog(
        web_store.units_frame(),
        web_store.models_frame(),
        specs=SPECS,
        settings=DEFAULT_SETTINGS,
        coverage=synthetic_cov,
    )
    gen = web_store.generation()
    _update(web_store, "CAM002", name="Đổi tên")
    assert update_catalog(cat, web_store.changes_since(gen).models) is None


# -- readers during updates ---------------------------------------------------------------------


def test_readers_see_one_whole_catalog_during_updates(web_store):
    """Threads read the live catalog while camera CAM002 moves step by step: in every catalog a
    reader gets, the camera, its footprint, the models table and the coverage of its hamlets all
    belong to the same version of the camera.
    """
    from geo_antt.catalog.live import LiveCatalog as _LiveCatalog

    live = _LiveCatalog(web_store, specs=SPECS, settings=DEFAULT_SETTINGS, wait_s=30)
    start = web_store.get_model("CAM002")
    positions = {start["version"]: start["geometry"]}
    expected: dict[int, dict[str, float]] = {}

    def figures(cat) -> dict[str, float]:
        cu = cat.coverage_units
        return {c: float(v) for c, v in zip(cu.index, cu["covered_m2"])}

    expected[start["version"]] = figures(live.current())
    seen: list = []
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            cat = live.current()
            cam = json.loads(cat.item("camera", "CAM002"))
            v = cam["properties"]["version"]
            p = positions.get(v)
            if p is None:
                errors.append(f"unknown version {v}")
                continue
            if cam["geometry"]["coordinates"] != pytest.approx([p.x, p.y], abs=1e-7):
                errors.append(f"v{v}: camera feature elsewhere")
            fp = shapely.from_geojson(json.dumps(json.loads(cat.item("footprints", "CAM002"))["geometry"]))
            if fp.distance(p) > 1e-6:
                errors.append(f"v{v}: footprint of another version")
            if int(cat.models.loc["CAM002", "version"]) != v:
                errors.append(f"v{v}: models table of another version")
            seen.append((v, cat))

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for k in range(4):
            rec = web_store.get_model("CAM002")
            p = shapely.Point(rec["geometry"].x + 0.0003, rec["geometry"].y + 0.0002 * (-1) ** k)
            web_store.update_model("CAM002", {"geometry": p}, expected_version=rec["version"], user=None)
            positions[rec["version"] + 1] = p
            cat = build_catalog(
                web_store.units_frame(), web_store.models_frame(), specs=SPECS, settings=DEFAULT_SETTINGS
            )
            expected[rec["version"] + 1] = figures(cat)
            live.current()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:5]
    assert live.last_update == "incremental"
    versions = {v for v, _ in seen}
    assert len(versions) >= 2  # the readers did overlap the updates
    for v, cat in {id(c): (v, c) for v, c in seen}.values():
        got = figures(cat)
        assert got.keys() == expected[v].keys()
        for code, val in expected[v].items():
            assert got[code] == pytest.approx(val, rel=REL, abs=1e-6), (v, code)


def test_requests_during_edits_see_old_or_new_figures_never_a_mix(web_store, synthetic_dir):
    """Through the app: while an editor puts a camera in service and retires it again and again, every
    /api/stats answer for its hamlet is wholly the state with it or wholly the state without it
    (model counts and coverage from one catalog).
    """
    from geo_antt.app import create_app

    app = create_app(
        {"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": web_store, "SECRET_KEY": "t", "CATALOG_WAIT_S": 30}
    )
    admin, editor = login(app, "admin"), login(app, "admin")
    cam = "CAM019"  # the one camera of Ấp Tân Phú, the nearly uncovered hamlet
    hamlet = web_store.get_model(cam)["unit_code"]

    def state(body: dict) -> tuple:
        active = next(r["count"] for r in body["by_status"] if r["code"] == "active")
        return active, round(body["coverage"]["covered_m2"], 6)

    states = {state(admin.get(f"/api/stats?unit={hamlet}").get_json())}
    answers: list[tuple] = []
    stop = threading.Event()

    def read() -> None:
        c = login(app, "admin")
        while not stop.is_set():
            r = c.get(f"/api/stats?unit={hamlet}")
            answers.append(state(r.get_json()))

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            for status in ("active", "inactive"):
                v = editor.get(f"/api/registry/models/{cam}").get_json()["properties"]["version"]
                r = editor.patch(
                    f"/api/registry/models/{cam}",
                    json={"version": v, "changes": {"status": status}},
                    headers={"X-CSRFToken": editor.csrf},
                )
                assert r.status_code == 200, r.get_data(as_text=True)
                states.add(state(admin.get(f"/api/stats?unit={hamlet}").get_json()))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert app.extensions["geo_antt"].live.last_update == "incremental"
    assert len(states) == 2  # with and without the camera
    (a_on, cov_on), (a_off, cov_off) = sorted(states, reverse=True)
    assert a_on == a_off + 1 and cov_on > cov_off
    assert answers and set(answers) <= states, set(answers) - states


def test_the_live_catalog_rebuilds_whole_after_unit_changes_and_large_changes(web_store, monkeypatch):
    import geo_antt.catalog.live as live_mod
    from geo_antt.catalog.live import LiveCatalog as _LiveCatalog

    live = _LiveCatalog(web_store, specs=SPECS, settings=DEFAULT_SETTINGS, wait_s=30)
    UNIT_AREA = live.current().unit("28903-01").geometry.area
    _update(web_store, "CAM002", direction_deg=(10.0,))
    live.current()
    assert live.last_update == "incremental"
    # new unit boundaries: every figure may change
    units = web_store.units_frame()
    units.loc["28903-01", "geometry"] = shapely.affinity.scale(units.loc["28903-01", "geometry"], 0.9, 0.9)
    web_store.put_units(units, user=None)
    cat = live.current()
    assert live.last_update == "full"
    assert cat.unit("28903-01").geometry.equals(web_store.units_frame().loc["28903-01", "geometry"])
    assert cat.unit("28903-01").geometry.area == pytest.approx(0.81 * UNIT_AREA, rel=1e-4)
    # more changed models than MAX_INCREMENTAL: one rebuild rather than a long update
    monkeypatch.setattr(live_mod, "MAX_INCREMENTAL", 2)
    for mid in ("CAM002", "CAM003", "CAM004"):
        _update(web_store, mid, name=f"Đổi {mid}")
    cat = live.current()
    assert live.last_update == "full" and cat.models.loc["CAM004", "name"] == "Đổi CAM004"
    assert_same_catalog(
        cat, build_catalog(web_store.units_frame(), web_store.models_frame(), specs=SPECS, settings=DEFAULT_SETTINGS)
    )
    # an update that fails is logged and replaced by a rebuild: the map keeps working
    monkeypatch.setattr(live_mod, "MAX_INCREMENTAL", 5000)
    monkeypatch.setattr(live_mod, "_recompute", lambda *a, **k: 1 / 0)
    _moved(web_store, "CAM005", 0.0001, 0.0)
    cat = live.current()
    assert (
        live.last_update == "full" and cat.models.loc["CAM005", "version"] == web_store.get_model("CAM005")["version"]
    )


def test_requests_are_served_the_previous_catalog_while_a_slow_update_runs(web_store, monkeypatch, caplog):
    """Issue #13, item 7: the update runs on a background thread. No request waits for it more
    than ``wait_s``, not even the one that found the catalog behind: each is served the previous
    catalog, whole, until the new one is in place; then every request sees the new one.
    """
    import time

    from geo_antt.catalog.live import LiveCatalog as _LiveCatalog

    live = _LiveCatalog(web_store, specs=SPECS, settings=DEFAULT_SETTINGS, wait_s=0.2)
    old = live.current()
    gate = threading.Event()
    real_refresh = live.refresh

    def slow_refresh() -> None:  # a rebuild after a large import, held until the test lets it go
        assert gate.wait(30)
        real_refresh()

    monkeypatch.setattr(live, "refresh", slow_refresh)
    _update(web_store, "CAM002", name="Sau khi nhập")
    waits = []
    for _ in range(3):
        t0 = time.perf_counter()
        cat = live.current()
        waits.append(time.perf_counter() - t0)
        assert cat is old and cat.models.loc["CAM002", "name"] != "Sau khi nhập"
    assert live.updating and max(waits) < 2.0, waits  # each waited about wait_s, not for the update
    assert live.wait_until_current(timeout_s=0.1) is False
    gate.set()
    assert live.wait_until_current(timeout_s=30)
    updater = live._updater  # caught up; it ends after one more look at the store's generation
    if updater is not None:
        updater.join(30)
    assert not live.updating
    new = live.current()
    assert new is not old and new.models.loc["CAM002", "name"] == "Sau khi nhập"
    assert live.generation == web_store.generation()

    # an update that fails keeps the previous catalog in service, logged, and is retried later,
    # not once per request
    def broken_refresh() -> None:
        raise RuntimeError("the store went away")

    monkeypatch.setattr(live, "refresh", broken_refresh)
    _update(web_store, "CAM003", name="Không tới")
    with caplog.at_level("ERROR", logger="geo_antt.catalog.live"):
        assert live.current() is new
        assert live.wait_until_current(timeout_s=5) is False
    assert "updating the map catalog failed" in caplog.text
    assert not live.updating
    live.request_update()  # within RETRY_S of the failure: no new attempt
    assert not live.updating
    monkeypatch.setattr(live, "refresh", real_refresh)
    monkeypatch.setattr(live, "_failed_at", -1e9)  # RETRY_S later
    assert live.wait_until_current(timeout_s=30)
    assert live.current().models.loc["CAM003", "name"] == "Không tới"


def test_a_save_answers_once_the_map_shows_it(web_store, synthetic_dir):
    """Read your writes: requests do not wait for the catalog at all here (CATALOG_WAIT_S 0),
    yet the officer's next read after a save shows it, because the save answers only once the
    catalog has it.
    """
    from geo_antt.app import create_app

    app = create_app(
        {"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": web_store, "SECRET_KEY": "t", "CATALOG_WAIT_S": 0.0}
    )
    c = login(app, "admin")
    for k in range(3):
        body = c.get("/api/registry/models/CAM002").get_json()
        lon, lat = body["geometry"]["coordinates"]
        new = [round(lon + 0.0002, 7), round(lat + 0.0001 * (-1) ** k, 7)]
        r = c.patch(
            "/api/registry/models/CAM002",
            json={
                "version": body["properties"]["version"],
                "changes": {"geometry": {"type": "Point", "coordinates": new}},
            },
            headers={"X-CSRFToken": c.csrf},
        )
        assert r.status_code == 200, r.get_data(as_text=True)
        item = c.get("/collections/camera/items/CAM002").get_json()
        assert item["geometry"]["coordinates"] == new
