"""The embedded demo dataset: the five pre-2025 districts of the field reports.

``build_demo(out_dir)`` writes a complete dataset directory (``dataset.toml``,
``boundaries/{provinces,districts,communes,hamlets}.geojson`` and ``models/models.geojson``) from
the project's own dependencies, deterministically: the same seed gives the same bytes.

Where the data comes from
-------------------------
* **Communes** (names, official GSO codes, centroids, bounding boxes) come from the MIT-licensed
  PyPI package ``vietnamadminunits``: its bundled SQLite file ``data/dataset.db``, table
  ``admin_units_legacy`` (the 63-province units in force before 1 July 2025), read through
  :func:`vietnamadminunits.database.query`. The post-2025 successor of every commune comes from
  the package's public converter :func:`vietnamadminunits.convert_address` (mode
  ``CONVERT_2025``, backed by its ``data/converter_2025.json``), and is checked against its
  ``admin_units`` table (34-province units).
* **Commune polygons are approximate**: a Voronoi tessellation of the commune centroids in the
  UTM zone of each district (:func:`geo_antt.crs.utm_crs_for_lon`), clipped to the union of the
  communes' bounding boxes; detached slivers are merged into the neighbour sharing the longest
  border. A district is the union of its communes, a province the union of its *demo* districts
  only.
* **Hamlets and models are generated** (seeded): hamlet names and polygons are plausible, not
  official; the counts of the reports are respected (Thạnh Phú 104 ấp, Hàm Thuận Nam 49 thôn and
  7 khu phố, Hàm Thuận Nam 127 models with 34 names in 5 fields).

Every feature carries ``approximate = true`` and a ``source`` property.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version as _pkg_version
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, Point, Polygon, box

from .._errors import GeoAnttError
from ..crs import WGS84, to_metric, to_wgs84, utm_crs_for_lon
from ..text import nfc
from .vector import to_geojson_text, write_atomic

__all__ = [
    "DEFAULT_SEED",
    "DEMO_DISTRICTS",
    "DemoDistrict",
    "build_demo",
    "demo_communes",
]

DEFAULT_SEED = 20250701
COORD_DECIMALS = 6
# 1 July 2025: districts abolished and communes merged; pre-2025 units end the day before.
PRE_2025_VALID_TO = "2025-06-30"
REFORM_DATE = "2025-07-01"


@dataclass(frozen=True)
class DemoDistrict:
    """One demo district (pre-2025 unit) and the figures of its review conference."""

    code: str
    name: str
    n_communes: int
    hamlet_word: str  # "Ấp" (Mekong delta) or "Thôn" (central coast / highlands)
    urban_word: str  # hamlet word in the township (thị trấn)


DEMO_DISTRICTS: tuple[DemoDistrict, ...] = (
    DemoDistrict("833", "Mỏ Cày Nam", 16, "Ấp", "Khu phố"),
    DemoDistrict("837", "Thạnh Phú", 18, "Ấp", "Ấp"),
    DemoDistrict("823", "Gò Công Tây", 13, "Ấp", "Khu phố"),
    DemoDistrict("598", "Hàm Thuận Nam", 13, "Thôn", "Khu phố"),
    DemoDistrict("575", "Khánh Sơn", 8, "Thôn", "Tổ dân phố"),
)

# Hamlet counts given by the reports.
THANH_PHU_HAMLETS = 104
HAM_THUAN_NAM_THON = 49
HAM_THUAN_NAM_KHU_PHO = 7

_AP_NAMES = (
    "Phú Hòa",
    "An Hòa",
    "Tân Lợi",
    "Bình Thạnh",
    "Long Thạnh",
    "Thạnh Phước",
    "Mỹ Lợi",
    "Hòa Bình",
    "Tân Thuận",
    "Phước Lộc",
    "An Bình",
    "Phú Lợi",
    "Thới Hòa",
    "Hưng Nhơn",
    "Vĩnh Hòa",
    "Bình Lợi",
    "Tân Phú",
    "Long Hòa",
    "Phú Thạnh",
    "An Phú",
    "Thành Long",
    "Mỹ Hòa",
    "Phước Hòa",
    "Thuận Hòa",
    "Tân An",
    "Định Hòa",
    "Hòa Lợi",
    "Bình Phú",
    "Thạnh Hòa",
    "An Lợi",
    "Tân Quới",
    "Phú Khương",
    "Thạnh Lợi",
    "Long Phú",
    "Vĩnh Phú",
    "Tân Long",
    "Hòa Thạnh",
    "Mỹ Thạnh",
    "Phước Thạnh",
    "Bình Hòa",
    "Thới An",
    "Giồng Kè",
)
_THON_NAMES_BINH_THUAN = (
    "Lập Phước",
    "Văn Lâm",
    "Dân Hòa",
    "Ba Bàu",
    "Đá Ong",
    "Phú Sơn",
    "Tân Hòa",
    "Hòa Thuận",
    "Tân Quang",
    "Dân Thuận",
    "Phú Mỹ",
    "Tân Thắng",
    "Kim Ngọc",
    "Đằng Thanh",
    "Bình Sơn",
    "Suối Le",
    "Tân Điền",
    "Hiệp Tiến",
    "Minh Tiến",
    "Lâm Giang",
    "Hà Lãng",
    "Phú Điền",
)
_THON_NAMES_KHANH_SON = (
    "Tà Lương",
    "Ha Nít",
    "Tà Gụ",
    "Xóm Cỏ",
    "Ka Tơ",
    "Suối Đá",
    "Dốc Gạo",
    "Cô Róa",
    "Hòn Dung",
    "A Pa",
    "Tà Giang",
    "Ma O",
    "Ha Gia",
    "Tha Mang",
    "Suối Me",
    "Ko Lắc",
)
# The one real hamlet named by the reports: the new camera model of thôn Liên Hòa, xã Sơn Bình.
_LIEN_HOA = ("22726", "Liên Hòa")


# --------------------------------------------------------------------------------------------
# communes from vietnamadminunits
# --------------------------------------------------------------------------------------------

_BOUNDS = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\S+\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$"
)


def _parse_bounds(text: str, *, where: str) -> tuple[float, float, float, float]:
    """``"lat1,lon1 – lat2,lon2"`` (vietnamadminunits) -> (minlon, minlat, maxlon, maxlat)."""
    m = _BOUNDS.match(text or "")
    if not m:
        raise GeoAnttError(f"vietnamadminunits {where}: cannot read bounds {text!r}")
    lat1, lon1, lat2, lon2 = map(float, m.groups())
    return min(lon1, lon2), min(lat1, lat2), max(lon1, lon2), max(lat1, lat2)


def demo_communes(districts: Sequence[DemoDistrict] = DEMO_DISTRICTS) -> list[dict[str, Any]]:
    """Return the communes of ``districts`` as read from ``vietnamadminunits``.

    Each dict has the province, district and commune names and GSO codes, the commune centroid
    (``lon``, ``lat``, degrees), its bounding box (``bounds``: minlon, minlat, maxlon, maxlat)
    and its post-2025 successor (``successor_code_2025``, ``successor_name_2025``,
    ``successor_province_2025``). Sorted by commune code.

    Raises
    ------
    GeoAnttError
        When the package's data disagree with the expected number of communes of a district or
        a commune cannot be converted to its 2025 successor.
    """
    from vietnamadminunits import ConvertMode, convert_address
    from vietnamadminunits.database import query

    for d in districts:
        if not d.code.isdigit():
            raise GeoAnttError(f"demo district code must be digits, got {d.code!r}")
    codes = ",".join(f"'{d.code}'" for d in districts)
    rows = query(
        "SELECT DISTINCT province, provinceCode, district, districtCode, districtShort, ward, "
        "wardShort, wardType, wardCode, wardLat, wardLon, wardBounds FROM admin_units_legacy "
        f"WHERE districtCode IN ({codes}) ORDER BY wardCode"
    )
    out: list[dict[str, Any]] = []
    for d in districts:
        mine = [r for r in rows if r["districtCode"] == d.code]
        if len(mine) != d.n_communes:
            raise GeoAnttError(
                f"vietnamadminunits admin_units_legacy: district {d.code} ({d.name}) has "
                f"{len(mine)} communes, the demo expects {d.n_communes}"
            )
        for r in mine:
            where = f"admin_units_legacy wardCode {r['wardCode']}"
            address = f"{r['ward']}, {r['district']}, {r['province']}"
            new = convert_address(address, mode=ConvertMode.CONVERT_2025)
            old = getattr(new, "OldAdminUnit", None)
            if old is None or old.ward_code != r["wardCode"] or not new.ward_code:
                raise GeoAnttError(f"vietnamadminunits {where}: no 2025 successor for {address!r}")
            bounds = _parse_bounds(r["wardBounds"], where=where)
            lon, lat = float(r["wardLon"]), float(r["wardLat"])
            # a centroid must lie in its own box (it does in 1.0.4; guard future data)
            bounds = (min(bounds[0], lon), min(bounds[1], lat), max(bounds[2], lon), max(bounds[3], lat))
            out.append(
                {
                    "province_code": r["provinceCode"],
                    "province": nfc(r["province"]),
                    "district_code": r["districtCode"],
                    "district": nfc(r["district"]),
                    "code": r["wardCode"],
                    "name": nfc(r["ward"]),
                    "short_name": nfc(r["wardShort"]),
                    "unit_type": nfc(r["wardType"]),
                    "lon": lon,
                    "lat": lat,
                    "bounds": bounds,
                    "successor_code_2025": new.ward_code,
                    "successor_name_2025": nfc(new.ward),
                    "successor_province_2025": nfc(new.province),
                }
            )
    return out


# --------------------------------------------------------------------------------------------
# geometry helpers (metric CRS)
# --------------------------------------------------------------------------------------------


def _polygons(geom) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 0]


def _tessellate(seeds: np.ndarray, region) -> list:
    """Voronoi cells of ``seeds`` (n x 2, metres) clipped to ``region``, one per seed, in order.

    Each cell keeps the piece that contains its seed; detached pieces (slivers left by clipping a
    convex cell to a non-convex region) go to the cell sharing the longest border with them, or
    are dropped when they touch none.
    """
    n = len(seeds)
    if n == 1:
        return [region]
    vor = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=region, ordered=True)
    raw = shapely.intersection(np.asarray(vor.geoms, dtype=object), region)
    cells: list = []
    loose: list[Polygon] = []
    for i, cell in enumerate(raw):
        seed = Point(seeds[i])
        parts = _polygons(cell)
        own = [p for p in parts if p.covers(seed)]
        if not own:
            raise GeoAnttError(f"demo generator: Voronoi cell {i} lost its seed")  # pragma: no cover
        cells.append(own[0])
        loose.extend(p for p in parts if p is not own[0])
    loose.sort(key=lambda p: (-p.area, p.centroid.x, p.centroid.y))
    for frag in loose:
        ring = frag.boundary
        shared = [shapely.length(shapely.intersection(ring, c)) for c in cells]
        j = int(np.argmax(shared))
        if shared[j] > 0:
            merged = shapely.union(cells[j], frag)
            cells[j] = merged if isinstance(merged, Polygon) else max(_polygons(merged), key=lambda p: p.area)
    return cells


def _node(polys: Sequence) -> list:
    """Return ``polys`` (a non-overlapping coverage) with every vertex of a neighbour that lies on
    a shared border inserted into both sides (no T-junctions).
    """
    lines = shapely.union_all([p.boundary for p in polys])  # noded linework
    faces = list(shapely.get_parts(shapely.polygonize(list(shapely.get_parts(lines)))))
    tree = shapely.STRtree(list(polys))
    mine: dict[int, list] = {}
    for f in faces:
        hits = tree.query(shapely.point_on_surface(f), predicate="within")
        if len(hits):
            mine.setdefault(int(hits[0]), []).append(f)
    out = []
    for i, p in enumerate(polys):
        fs = mine.get(i)
        if not fs:
            out.append(p)  # pragma: no cover - every polygon is at least one face
        elif len(fs) == 1:
            out.append(fs[0])
        else:
            out.append(shapely.union_all(fs))
    return out


def _sample_in(poly, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points (metres) inside ``poly``."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    got: list[np.ndarray] = []
    count = 0
    while count < n:
        xy = np.column_stack([rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)])
        xy = xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]
        got.append(xy)
        count += len(xy)
    return np.concatenate(got)[:n]


def _relaxed_seeds(poly, n: int, rng: np.random.Generator, *, iterations: int = 3) -> np.ndarray:
    """``n`` well-spread seeds in ``poly``: random points moved to their cells' centroids."""
    seeds = _sample_in(poly, n, rng)
    for _ in range(iterations):
        cells = _tessellate(seeds, poly)
        new = []
        for s, c in zip(seeds, cells):
            ctr = c.centroid
            new.append((ctr.x, ctr.y) if c.contains(ctr) else tuple(s))
        seeds = np.asarray(new)
    return seeds


def _to_wgs84(geoms: Sequence, crs) -> list:
    s = gpd.GeoSeries(list(geoms), crs=crs)
    return list(to_wgs84(s).values)


def _snap(geom):
    """Round to the 6-decimal grid of the output (about 0.1 m) keeping the geometry valid."""
    if geom is None:
        return None
    return shapely.set_precision(geom, 10.0**-COORD_DECIMALS)


# --------------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------------


@dataclass
class _Unit:
    code: str
    name: str
    level: str
    parent_code: str | None
    unit_type: str
    geometry: Any  # WGS84
    source: str
    valid_to: str | None = None
    extra: dict[str, Any] | None = None


def _hamlet_counts(district: DemoDistrict, communes: list[dict], rng: np.random.Generator) -> list[int]:
    """Number of hamlets of each commune of ``district`` (in commune order)."""
    n = len(communes)
    if district.code == "837":  # Thạnh Phú: 104 ấp over 18 communes
        counts = [THANH_PHU_HAMLETS // n] * n
        for i in rng.choice(n, THANH_PHU_HAMLETS - sum(counts), replace=False):
            counts[int(i)] += 1
        return counts
    if district.code == "598":  # Hàm Thuận Nam: 49 thôn in the 12 xã + 7 khu phố in the thị trấn
        xa = [i for i, c in enumerate(communes) if c["unit_type"] != "Thị trấn"]
        counts = [0] * n
        for i, c in enumerate(communes):
            if c["unit_type"] == "Thị trấn":
                counts[i] = HAM_THUAN_NAM_KHU_PHO
        base = HAM_THUAN_NAM_THON // len(xa)
        for i in xa:
            counts[i] = base
        for i in rng.choice(xa, HAM_THUAN_NAM_THON - base * len(xa), replace=False):
            counts[int(i)] += 1
        return counts
    return [int(v) for v in rng.integers(6, 13, n)]


def _hamlet_names(district: DemoDistrict, commune: dict, n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``n`` (name, type) pairs for the hamlets of ``commune``."""
    township = commune["unit_type"] == "Thị trấn"
    word = district.urban_word if township else district.hamlet_word
    if township and word != "Ấp":
        numbered = True  # khu phố / tổ dân phố are numbered
    else:
        numbered = word == "Ấp" and rng.random() < 0.5  # Mekong ấp: numbered or named
    if numbered:
        return [(f"{word} {i}", word) for i in range(1, n + 1)]
    if word == "Ấp":
        pool: tuple[str, ...] = _AP_NAMES
    elif district.code == "575":
        pool = _THON_NAMES_KHANH_SON
    else:
        pool = _THON_NAMES_BINH_THUAN
    picked = [pool[int(i)] for i in rng.choice(len(pool), n, replace=False)]
    if commune["code"] == _LIEN_HOA[0] and _LIEN_HOA[1] not in picked:
        picked[0] = _LIEN_HOA[1]
    return [(f"{word} {p}", word) for p in picked]


def _build_boundaries(communes: list[dict], *, seed: int, src_pkg: str):
    """Return (units, hamlet_info): every unit as WGS84 ``_Unit`` and, per hamlet code, its metric
    polygon, centre, CRS and district for the model generator.
    """
    by_district = {d.code: [c for c in communes if c["district_code"] == d.code] for d in DEMO_DISTRICTS}
    zone_of = {}
    for d in DEMO_DISTRICTS:
        cs = by_district[d.code]
        lon = (min(c["bounds"][0] for c in cs) + max(c["bounds"][2] for c in cs)) / 2.0
        zone_of[d.code] = utm_crs_for_lon(lon)

    commune_src = (
        f"{src_pkg} admin_units_legacy (tên, mã GSO, tâm, khung bao); "
        "ranh giới xấp xỉ: Voronoi từ tâm xã / approximate: Voronoi of commune centroids"
    )
    metric_commune: dict[str, Any] = {}
    crs_of_commune: dict[str, Any] = {}
    # one Voronoi per UTM zone over all communes of the districts in it (cells never overlap)
    zones = sorted({cast(int, z.to_epsg()) for z in zone_of.values()})  # UTM zones: always an EPSG code
    for epsg in zones:
        dcodes = [d.code for d in DEMO_DISTRICTS if zone_of[d.code].to_epsg() == epsg]
        cs = [c for dc in dcodes for c in by_district[dc]]
        pts = to_metric(gpd.GeoSeries([Point(c["lon"], c["lat"]) for c in cs], crs=WGS84), crs=f"EPSG:{epsg}")
        seeds = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
        boxes = gpd.GeoSeries([shapely.segmentize(box(*c["bounds"]), 0.002) for c in cs], crs=WGS84)
        boxes = list(to_metric(boxes, crs=f"EPSG:{epsg}").values)
        regions = {}
        for dc in dcodes:
            regions[dc] = shapely.union_all([b for b, c in zip(boxes, cs) if c["district_code"] == dc])
        # Voronoi over the zone, clipped per district to the union of its communes' boxes
        vor = shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=shapely.union_all(list(regions.values())), ordered=True
        )
        cells = list(vor.geoms)
        for dc in dcodes:
            idx = [i for i, c in enumerate(cs) if c["district_code"] == dc]
            # tessellate the district with its own seeds, restricted to its zone-wide cells
            allowed = shapely.intersection(regions[dc], shapely.union_all([cells[i] for i in idx]))
            own = _tessellate(seeds[idx], allowed)
            for i, poly in zip(idx, own):
                metric_commune[cs[i]["code"]] = poly
                crs_of_commune[cs[i]["code"]] = f"EPSG:{epsg}"

    units: list[_Unit] = []
    hamlet_info: dict[str, dict[str, Any]] = {}
    hamlet_src = (
        f"geo-antt demo (seed {seed}): ấp/thôn giả lập, Voronoi trong xã / "
        "generated hamlets, Voronoi inside the commune"
    )
    # hamlets: Voronoi of seeded points inside each commune (metric)
    metric_hamlets: dict[str, Any] = {}
    hamlet_rows: dict[str, list[tuple[str, str, str]]] = {}  # commune -> [(code, name, type)]
    for d in DEMO_DISTRICTS:
        cs = by_district[d.code]
        rng = np.random.default_rng([seed, int(d.code)])
        counts = _hamlet_counts(d, cs, rng)
        for c, n in zip(cs, counts):
            crng = np.random.default_rng([seed, int(c["code"])])
            poly = metric_commune[c["code"]]
            seeds = _relaxed_seeds(poly, n, crng)
            cells = _tessellate(seeds, poly)
            names = _hamlet_names(d, c, n, crng)
            hamlet_rows[c["code"]] = []
            for k, (cell, (name, word)) in enumerate(zip(cells, names), start=1):
                code = f"{c['code']}-{k:02d}"
                metric_hamlets[code] = cell
                hamlet_rows[c["code"]].append((code, name, word))
                hamlet_info[code] = {
                    "metric": cell,
                    "centre": Point(seeds[k - 1]),
                    "crs": crs_of_commune[c["code"]],
                    "district": d.code,
                    "commune": c["code"],
                    "commune_name": c["name"],
                    "name": name,
                }
    # node every hamlet of a zone together (shared borders get the same vertices on both sides,
    # so that no overlap or gap appears once the straight metric edges are projected), project,
    # round; communes, districts and provinces are unions of the rounded hamlets.
    hamlet_wgs: dict[str, Any] = {}
    for epsg in zones:
        codes = sorted(h for h, i in hamlet_info.items() if i["crs"] == f"EPSG:{epsg}")
        noded = _node([metric_hamlets[h] for h in codes])
        for h, g in zip(codes, _to_wgs84(noded, f"EPSG:{epsg}")):
            hamlet_wgs[h] = _snap(g)
    for d in DEMO_DISTRICTS:
        cs = by_district[d.code]
        commune_wgs = []
        for c in cs:
            g = _snap(shapely.union_all([hamlet_wgs[h] for h, _, _ in hamlet_rows[c["code"]]]))
            commune_wgs.append(g)
            units.append(
                _Unit(
                    code=c["code"],
                    name=c["name"],
                    level="commune",
                    parent_code=d.code,
                    unit_type=c["unit_type"],
                    geometry=g,
                    source=commune_src,
                    valid_to=PRE_2025_VALID_TO,
                    extra={
                        "successor_code_2025": c["successor_code_2025"],
                        "successor_name_2025": c["successor_name_2025"],
                        "successor_province_2025": c["successor_province_2025"],
                    },
                )
            )
            for code, name, word in hamlet_rows[c["code"]]:
                units.append(
                    _Unit(
                        code=code,
                        name=name,
                        level="hamlet",
                        parent_code=c["code"],
                        unit_type=word,
                        geometry=hamlet_wgs[code],
                        source=hamlet_src,
                    )
                )
        dist_geom = _snap(shapely.union_all(commune_wgs))
        units.append(
            _Unit(
                code=d.code,
                name=cs[0]["district"],
                level="district",
                parent_code=cs[0]["province_code"],
                unit_type=cs[0]["district"].split(" ")[0],
                geometry=dist_geom,
                source=f"{src_pkg} admin_units_legacy; hợp các xã demo / union of the demo communes",
                valid_to=PRE_2025_VALID_TO,
            )
        )
    provinces: dict[str, list[_Unit]] = {}
    for u in units:
        if u.level == "district":
            assert u.parent_code is not None  # every demo district sits in a province
            provinces.setdefault(u.parent_code, []).append(u)
    for pcode, dists in sorted(provinces.items()):
        pname = next(c["province"] for c in communes if c["province_code"] == pcode)
        dnames = ", ".join(u.name for u in dists)
        units.append(
            _Unit(
                code=pcode,
                name=pname,
                level="province",
                parent_code=None,
                unit_type=pname.split(" ")[0],
                geometry=_snap(shapely.union_all([u.geometry for u in dists])),
                source=f"{src_pkg} admin_units_legacy; hợp các huyện demo / union of the demo districts",
                valid_to=PRE_2025_VALID_TO,
                extra={
                    "coverage_note": (
                        f"Chỉ gồm các huyện demo ({dnames}), không phải toàn tỉnh / "
                        f"covers only the demo districts ({dnames}), not the whole province"
                    )
                },
            )
        )
    return units, hamlet_info


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------

# Hàm Thuận Nam: 127 models, 34 names, 5 fields; hosts 102 residential, 1 enterprise, 18 school,
# 6 agency. (name, kind, field, host, count)
HAM_THUAN_NAM_MODELS: tuple[tuple[str, str, str, str, int], ...] = (
    ("Camera an ninh trật tự", "camera", "crime_prevention", "residential", 14),
    ("Camera giám sát giao thông", "camera", "traffic_safety", "residential", 4),
    ("Thắp sáng đường quê", "lighting", "traffic_safety", "residential", 6),
    ("Ánh sáng an ninh trật tự", "lighting", "crime_prevention", "residential", 6),
    ("Chốt dân phòng", "checkpoint", "crime_prevention", "residential", 5),
    ("Chốt an ninh tự quản", "checkpoint", "crime_prevention", "residential", 3),
    ("Cổng rào an ninh tự quản", "gate", "crime_prevention", "residential", 4),
    ("Tổ nhân dân tự quản", "self_management", "crime_prevention", "residential", 10),
    ("Tổ an ninh tự quản", "self_management", "crime_prevention", "residential", 4),
    ("Tổ tuần tra nhân dân", "self_management", "crime_prevention", "residential", 3),
    ("Khu dân cư an toàn về an ninh trật tự", "other", "crime_prevention", "residential", 4),
    ("Tiếng kẻng an ninh", "other", "crime_prevention", "residential", 3),
    ("Nhóm Zalo an ninh trật tự khu dân cư", "other", "crime_prevention", "residential", 3),
    ("Phụ nữ tham gia phòng, chống tội phạm", "other", "crime_prevention", "residential", 2),
    ("Cựu chiến binh tham gia bảo vệ an ninh trật tự", "other", "crime_prevention", "residential", 2),
    ("Đoàn viên thanh niên tham gia giữ gìn an ninh trật tự", "other", "crime_prevention", "residential", 2),
    ("Tổ hòa giải ở cơ sở", "other", "subject_management", "residential", 3),
    ("Giúp đỡ người lầm lỗi tái hòa nhập cộng đồng", "other", "subject_management", "residential", 3),
    ("Quản lý, giáo dục người nghiện ma túy tại cộng đồng", "other", "subject_management", "residential", 2),
    ("Gia đình không có người vi phạm pháp luật", "other", "subject_management", "residential", 2),
    ("Tổ liên gia an toàn phòng cháy, chữa cháy", "self_management", "fire_prevention", "residential", 4),
    ("Điểm chữa cháy công cộng", "other", "fire_prevention", "residential", 3),
    ("Tuyến đường tự quản về trật tự an toàn giao thông", "other", "traffic_safety", "residential", 3),
    ("Dòng họ tự quản về an ninh trật tự", "self_management", "ethnic_affairs", "residential", 3),
    ("Chức sắc tôn giáo tham gia bảo vệ an ninh trật tự", "other", "ethnic_affairs", "residential", 2),
    ("Cơ sở tôn giáo tự quản về an ninh trật tự", "self_management", "ethnic_affairs", "residential", 2),
    ("Doanh nghiệp an toàn về an ninh trật tự", "other", "crime_prevention", "enterprise", 1),
    ("Cổng trường an toàn giao thông", "other", "traffic_safety", "school", 8),
    ("Trường học an toàn về an ninh trật tự", "other", "crime_prevention", "school", 6),
    ("Camera an ninh trường học", "camera", "crime_prevention", "school", 4),
    ("Cơ quan an toàn về an ninh trật tự", "other", "crime_prevention", "agency", 2),
    ("Cơ quan an toàn phòng cháy, chữa cháy", "other", "fire_prevention", "agency", 2),
    ("Camera an ninh trụ sở cơ quan", "camera", "crime_prevention", "agency", 1),
    ("Chốt bảo vệ trụ sở cơ quan", "checkpoint", "crime_prevention", "agency", 1),
)

_SPATIAL = ("camera", "lighting", "checkpoint", "gate")
_OWNERS = ("Công an xã", "UBND xã", "Hộ gia đình", "Doanh nghiệp viễn thông", "Ban nhân dân ấp/thôn")


class _ModelMaker:
    """Places models inside hamlets (metric) and collects them as WGS84 feature dicts."""

    def __init__(self, district: DemoDistrict, hamlets: dict[str, dict[str, Any]], *, seed: int) -> None:
        self.d = district
        self.hamlets = hamlets  # code -> info (only this district's)
        self.rng = np.random.default_rng([seed, int(district.code), 7])
        # the cameras' resolution and lens come from a stream of their own, so that adding them
        # left every other generated value as it was
        self.sensor_rng = np.random.default_rng([seed, int(district.code), 11])
        self.rows: list[dict[str, Any]] = []
        self.src = f"geo-antt demo (seed {seed}): giả lập / generated"
        self._roads: dict[str, LineString] = {}

    # -- places ---------------------------------------------------------------------------
    def road(self, hcode: str) -> LineString:
        """A straight 'road' through the hamlet centre, inside the hamlet (15 m from its edge)."""
        if hcode not in self._roads:
            h = self.hamlets[hcode]
            inner = h["metric"].buffer(-15.0)
            c = h["centre"]
            ang = self.rng.uniform(0, math.pi)
            dx, dy = math.cos(ang) * 5000.0, math.sin(ang) * 5000.0
            line = shapely.intersection(LineString([(c.x - dx, c.y - dy), (c.x + dx, c.y + dy)]), inner)
            parts = [p for p in shapely.get_parts(line) if isinstance(p, LineString) and p.length > 0]
            near = [p for p in parts if p.distance(c) < 1e-6] or parts
            self._roads[hcode] = max(near, key=lambda p: p.length)
        return self._roads[hcode]

    def point_on_road(self, hcode: str, *, spread_m: float = 300.0) -> tuple[Point, float]:
        """A point on the hamlet road within ``spread_m`` metres of the centre, and the road
        bearing there (degrees clockwise from north).
        """
        road = self.road(hcode)
        c = self.hamlets[hcode]["centre"]
        at = road.project(c)
        pos = float(np.clip(at + self.rng.uniform(-spread_m, spread_m), 0.0, road.length))
        p = road.interpolate(pos)
        a, b = road.coords[0], road.coords[-1]
        bearing = math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0
        return p, bearing

    # -- rows -----------------------------------------------------------------------------
    def _dates(self, status: str) -> tuple[str, str | None]:
        start = np.datetime64("2019-01-01") + int(self.rng.integers(0, 6 * 365 + 160))
        end: str | None = None
        if status == "inactive":
            end = str(min(start + int(self.rng.integers(200, 900)), np.datetime64("2025-10-31")))
        return str(start), end

    def _status(self, p_inactive: float = 0.08) -> str:
        return "inactive" if self.rng.random() < p_inactive else "active"

    def add(
        self,
        *,
        kind: str,
        name: str,
        field: str,
        host: str,
        unit_code: str,
        geometry=None,
        crs: str | None = None,
        notes: str | None = None,
        status: str | None = None,
        start_date: str | None = None,
        **params: Any,
    ) -> None:
        status = status or self._status()
        start, end = self._dates(status)
        row = {
            "kind": kind,
            "name": name,
            "field": field,
            "host": host,
            "status": status,
            "unit_code": unit_code,
            "direction_deg": params.get("direction_deg", ()),
            "fov_deg": params.get("fov_deg"),
            "range_m": params.get("range_m"),
            "radius_m": params.get("radius_m"),
            "height_m": params.get("height_m"),
            "resolution_px": params.get("resolution_px"),
            "lens": params.get("lens"),
            "camera_type": params.get("camera_type"),
            "owner": params.get("owner"),
            "data_sharing": params.get("data_sharing"),
            "start_date": start_date or start,
            "end_date": end,
            "notes": notes,
            "_geom": geometry,
            "_crs": crs,
        }
        self.rows.append(row)

    def camera(
        self,
        hcode: str,
        *,
        name: str,
        field: str = "crime_prevention",
        host: str = "residential",
        notes: str | None = None,
        status: str | None = None,
        start_date: str | None = None,
        dome_share: float = 0.12,
    ) -> None:
        h = self.hamlets[hcode]
        p, bearing = self.point_on_road(hcode)
        if self.rng.random() < dome_share:
            ctype = "dome" if self.rng.random() < 0.5 else "ptz"
            params = {"direction_deg": (), "fov_deg": 360.0, "range_m": float(self.rng.integers(20, 31))}
        else:
            ctype = "fixed"
            first = (bearing + (0.0 if self.rng.random() < 0.5 else 180.0) + self.rng.uniform(-15, 15)) % 360.0
            dirs: tuple[float, ...] = (round(first, 1),)
            if self.rng.random() < 0.25:  # a second camera on the same pole looking the other way
                dirs = (round(first, 1), round((first + 180.0) % 360.0, 1))
            focal = float(self.rng.choice([2.8, 3.6, 4.0]))
            fov = {2.8: 105.0, 3.6: 92.0, 4.0: 82.0}[focal] + float(self.rng.integers(-2, 3))
            params = {"direction_deg": dirs, "fov_deg": fov, "range_m": float(self.rng.integers(10, 31))}
        params.update(self._sensor(dome=ctype == "dome"))
        owner = _OWNERS[int(self.rng.integers(0, len(_OWNERS)))]
        self.add(
            kind="camera",
            name=name,
            field=field,
            host=host,
            unit_code=hcode,
            geometry=p,
            crs=h["crs"],
            notes=notes,
            status=status,
            start_date=start_date,
            camera_type=ctype,
            height_m=float(self.rng.choice([3.0, 3.5, 4.0, 4.5, 5.0])),
            owner=owner,
            data_sharing=bool(self.rng.random() < 0.7),
            **params,
        )

    def _sensor(self, *, dome: bool) -> dict[str, Any]:
        """Resolution (pixels) and lens of a camera, as a commune records them: about two in
        three sheets give the resolution (2MP most often, then 4MP, a few 8MP); half the
        recorded domes are 360-degree fisheyes.
        """
        r = self.sensor_rng
        known, pick, fish = r.random(), r.random(), r.random()
        if known >= 0.65:
            return {}
        res = 1920.0 if pick < 0.6 else 2560.0 if pick < 0.9 else 3840.0
        return {"resolution_px": res, "lens": "fisheye" if dome and fish < 0.5 else None}

    def lighting(
        self,
        hcode: str,
        *,
        name: str,
        field: str = "crime_prevention",
        host: str = "residential",
        line: bool | None = None,
        notes: str | None = None,
    ) -> None:
        h = self.hamlets[hcode]
        radius = float(self.rng.integers(15, 31))
        if line is None:
            line = self.rng.random() < 0.5
        if line:
            road = self.road(hcode)
            at = road.project(h["centre"])
            half = float(self.rng.uniform(100.0, 300.0))
            geom = shapely.ops.substring(road, max(0.0, at - half), min(road.length, at + half))
            if not isinstance(geom, LineString) or geom.length < 20.0:
                geom, _ = self.point_on_road(hcode, spread_m=150.0)
        else:
            geom, _ = self.point_on_road(hcode, spread_m=150.0)
        self.add(
            kind="lighting",
            name=name,
            field=field,
            host=host,
            unit_code=hcode,
            geometry=geom,
            crs=h["crs"],
            notes=notes,
            radius_m=radius,
            owner="UBND xã",
        )

    def checkpoint(
        self,
        hcode: str,
        *,
        name: str = "Chốt dân phòng",
        field: str = "crime_prevention",
        host: str = "residential",
        notes: str | None = None,
    ) -> None:
        h = self.hamlets[hcode]
        p, _ = self.point_on_road(hcode, spread_m=600.0)
        self.add(
            kind="checkpoint",
            name=name,
            field=field,
            host=host,
            unit_code=hcode,
            geometry=p,
            crs=h["crs"],
            notes=notes,
            radius_m=float(self.rng.integers(5, 16) * 10),
        )

    def gate(
        self,
        hcode: str,
        *,
        name: str = "Cổng rào an ninh tự quản",
        field: str = "crime_prevention",
        host: str = "residential",
        notes: str | None = None,
    ) -> None:
        h = self.hamlets[hcode]
        p, _ = self.point_on_road(hcode, spread_m=800.0)
        self.add(
            kind="gate",
            name=name,
            field=field,
            host=host,
            unit_code=hcode,
            geometry=p,
            crs=h["crs"],
            notes=notes,
            radius_m=float(self.rng.integers(8, 13)),
        )

    def nonspatial(
        self,
        unit_code: str,
        *,
        kind: str,
        name: str,
        field: str = "crime_prevention",
        host: str = "residential",
        notes: str | None = None,
        status: str | None = None,
        start_date: str | None = None,
    ) -> None:
        self.add(
            kind=kind,
            name=name,
            field=field,
            host=host,
            unit_code=unit_code,
            notes=notes,
            status=status,
            start_date=start_date,
        )

    def spatial(self, kind: str, hcode: str, **kw: Any) -> None:
        getattr(self, kind)(hcode, **kw)


def _split_covered(
    codes: list[str], rng: np.random.Generator, *, uncovered_share: float
) -> tuple[list[str], list[str]]:
    """Split hamlet codes into (covered, uncovered); at least one uncovered per commune with 4+."""
    covered: list[str] = []
    uncovered: list[str] = []
    by_commune: dict[str, list[str]] = {}
    for c in codes:
        by_commune.setdefault(c.split("-")[0], []).append(c)
    for hs in by_commune.values():
        k = int(round(len(hs) * uncovered_share))
        if len(hs) >= 4:
            k = max(k, 1)
        pick = set(int(i) for i in rng.choice(len(hs), k, replace=False)) if k else set()
        for i, h in enumerate(hs):
            (uncovered if i in pick else covered).append(h)
    return covered, uncovered


def _generic_district(
    m: _ModelMaker,
    communes: list[dict],
    *,
    camera_name: str,
    light_name: str,
    cams: tuple[int, int],
    lights: tuple[int, int],
    p_checkpoint: float,
    gates: tuple[int, int] = (0, 0),
    uncovered_share: float = 0.25,
    dense: dict[str, str] | None = None,
    exclude: Sequence[str] = (),
) -> list[str]:
    """Generated models of a district (hamlets in ``exclude`` get none); returns the codes of the
    hamlets left without spatial models.
    """
    dense = dense or {}
    rng = m.rng
    codes = sorted(h for h in m.hamlets if h not in exclude)
    covered, uncovered = _split_covered(codes, rng, uncovered_share=uncovered_share)
    for hcode in covered:
        cc = m.hamlets[hcode]["commune"]
        extra = 2 if cc in dense else 0  # the communes the reports single out are denser
        note = dense.get(cc)
        for _ in range(int(rng.integers(cams[0], cams[1] + 1)) + extra):
            m.camera(hcode, name=camera_name, notes=note)
        for _ in range(int(rng.integers(lights[0], lights[1] + 1)) + (1 if cc in dense else 0)):
            m.lighting(hcode, name=light_name, notes=note)
        if rng.random() < p_checkpoint:
            m.checkpoint(hcode)
        for _ in range(int(rng.integers(gates[0], gates[1] + 1))):
            m.gate(hcode)
    for hcode in codes:
        if rng.random() < 0.6:
            m.nonspatial(hcode, kind="self_management", name="Tổ nhân dân tự quản")
    for c in communes:
        m.nonspatial(c["code"], kind="other", name="Tổ hòa giải ở cơ sở", field="subject_management")
    return uncovered


def _hamlets_of(hamlets: dict[str, dict], commune_code: str) -> list[str]:
    return sorted(h for h, i in hamlets.items() if i["commune"] == commune_code)


def _models_mo_cay_nam(m: _ModelMaker, communes: list[dict]) -> None:
    by_name = {c["short_name"]: c["code"] for c in communes}
    dense = {
        by_name["Hương Mỹ"]: "Xã Hương Mỹ: sơ kết mô hình phòng, chống tội phạm (camera, ánh sáng an ninh)",
        by_name["An Định"]: "Xã An Định: sơ kết mô hình phòng, chống tội phạm (camera, ánh sáng an ninh)",
    }
    _generic_district(
        m,
        communes,
        camera_name="Camera phòng, chống tội phạm",
        light_name="Ánh sáng an ninh trật tự",
        cams=(1, 3),
        lights=(0, 2),
        p_checkpoint=0.2,
        dense=dense,
    )
    for cc in dense:
        m.nonspatial(cc, kind="other", name="Mô hình phòng, chống tội phạm", notes=dense[cc])


def _models_thanh_phu(m: _ModelMaker, communes: list[dict]) -> None:
    _generic_district(
        m,
        communes,
        camera_name="Camera an ninh trật tự",
        light_name="Thắp sáng đường quê",
        cams=(1, 3),
        lights=(0, 2),
        p_checkpoint=0.25,
    )
    # 46 agencies, enterprises and schools registered as "safe" units
    hosts = ["agency"] * 14 + ["enterprise"] * 8 + ["school"] * 24
    names = {
        "agency": "Cơ quan an toàn về an ninh trật tự",
        "enterprise": "Doanh nghiệp an toàn về an ninh trật tự",
        "school": "Trường học an toàn về an ninh trật tự",
    }
    hamlets = sorted(m.hamlets)
    for i, host in enumerate(hosts):
        h = hamlets[int(m.rng.integers(0, len(hamlets)))]
        m.nonspatial(
            h,
            kind="other",
            name=names[host],
            host=host,
            status="active",
            notes=f"Đơn vị an toàn về ANTT số {i + 1}/46 (cơ quan, doanh nghiệp, nhà trường)",
        )


def _models_go_cong_tay(m: _ModelMaker, communes: list[dict]) -> None:
    _generic_district(
        m,
        communes,
        camera_name="Camera an ninh trật tự",
        light_name="Ánh sáng an ninh trật tự",
        cams=(1, 2),
        lights=(1, 2),
        p_checkpoint=0.45,
        gates=(1, 3),
    )
    for c in communes:  # the Bình Tân self-management model, replicated in 100 % of communes
        origin = c["short_name"] == "Bình Tân"
        m.nonspatial(
            c["code"],
            kind="self_management",
            name="Mô hình tự quản Bình Tân",
            status="active",
            start_date="2019-03-15" if origin else None,
            notes="Nơi khởi xướng mô hình" if origin else "Nhân rộng mô hình tự quản của xã Bình Tân",
        )


def _models_ham_thuan_nam(m: _ModelMaker, communes: list[dict]) -> None:
    rng = m.rng
    covered, _ = _split_covered(sorted(m.hamlets), rng, uncovered_share=0.45)
    # schools and agencies sit in the commune centres: the first hamlet of each commune
    centres = [_hamlets_of(m.hamlets, c["code"])[0] for c in communes]
    covered_set = set(covered)
    for name, kind, field, host, count in HAM_THUAN_NAM_MODELS:
        for k in range(count):
            if kind in _SPATIAL:
                if host == "residential":
                    h = covered[int(rng.integers(0, len(covered)))]
                else:
                    pool = [h for h in centres if h in covered_set] or covered
                    h = pool[k % len(pool)]
                m.spatial(kind, h, name=name, field=field, host=host)
            else:
                if host == "enterprise":
                    unit = _hamlets_of(m.hamlets, next(c["code"] for c in communes if c["short_name"] == "Hàm Kiệm"))[0]
                elif host in ("school", "agency"):
                    unit = centres[int(rng.integers(0, len(centres)))]
                else:
                    unit = sorted(m.hamlets)[int(rng.integers(0, len(m.hamlets)))]
                m.nonspatial(unit, kind=kind, name=name, field=field, host=host)


def _models_khanh_son(m: _ModelMaker, communes: list[dict]) -> None:
    by_name = {c["short_name"]: c["code"] for c in communes}
    lien_hoa = next(
        h for h, i in m.hamlets.items() if i["commune"] == by_name["Sơn Bình"] and i["name"] == "Thôn Liên Hòa"
    )
    for _ in range(4):  # the new camera model of thôn Liên Hòa
        m.camera(
            lien_hoa,
            name="Camera an ninh thôn Liên Hòa",
            status="active",
            start_date="2025-03-26",
            notes="Mô hình mới: camera an ninh tại thôn Liên Hòa, xã Sơn Bình",
            dome_share=0.25,
        )
    m.nonspatial(
        _hamlets_of(m.hamlets, by_name["Sơn Lâm"])[0],
        kind="other",
        name="Gương sáng",
        status="active",
        notes='Mô hình "Gương sáng" của xã Sơn Lâm',
    )
    m.nonspatial(
        _hamlets_of(m.hamlets, by_name["Sơn Trung"])[0],
        kind="self_management",
        name="Giáo xứ tự quản về an ninh trật tự",
        field="ethnic_affairs",
        status="active",
        notes="Giáo xứ tự quản, xã Sơn Trung",
    )
    m.nonspatial(
        _hamlets_of(m.hamlets, by_name["Sơn Hiệp"])[0],
        kind="self_management",
        name="Thôn tự quản về an ninh trật tự",
        status="active",
        notes="Thôn tự quản, xã Sơn Hiệp",
    )
    _generic_district(
        m,
        communes,
        exclude=(lien_hoa,),
        camera_name="Camera an ninh trật tự",
        light_name="Ánh sáng an ninh trật tự",
        cams=(0, 2),
        lights=(0, 1),
        p_checkpoint=0.3,
        uncovered_share=0.35,
    )


_DISTRICT_MODELS = {
    "833": _models_mo_cay_nam,
    "837": _models_thanh_phu,
    "823": _models_go_cong_tay,
    "598": _models_ham_thuan_nam,
    "575": _models_khanh_son,
}


def _build_models(communes: list[dict], hamlet_info: dict[str, dict], *, seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for d in DEMO_DISTRICTS:
        hs = {h: i for h, i in hamlet_info.items() if i["district"] == d.code}
        cs = [c for c in communes if c["district_code"] == d.code]
        maker = _ModelMaker(d, hs, seed=seed)
        _DISTRICT_MODELS[d.code](maker, cs)
        for k, r in enumerate(maker.rows, start=1):
            r["id"] = f"{d.code}-{k:04d}"
            r["_src"] = maker.src
        # project the district's geometries back to WGS84 in one go
        with_geom = [r for r in maker.rows if r["_geom"] is not None]
        if with_geom:
            wgs = _to_wgs84([r["_geom"] for r in with_geom], with_geom[0]["_crs"])
            for r, g in zip(with_geom, wgs):
                r["_geom"] = _snap(g)
        rows.extend(maker.rows)
    return rows


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _feature_collection(name: str, features: Iterable[tuple[dict[str, Any], Any]]) -> str:
    """GeoJSON text of ``(properties, geometry)`` pairs, as a file kept in git: one feature per
    line, the properties in their order, coordinates rounded to ``COORD_DECIMALS`` (the shared
    writer, :func:`geo_antt.io.vector.to_geojson_text` with ``diffable=True``).
    """
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    for props, geom in features:
        rows.append(props)
        geoms.append(None if geom is None or geom.is_empty else geom)
    frame = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms, crs=WGS84))
    return to_geojson_text(frame, decimals=COORD_DECIMALS, name=name, ids=False, diffable=True)


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _dataset_toml(*, seed: int, src_pkg: str, units: list[str], models: list[str]) -> str:
    title_vi = "Dữ liệu mẫu: 5 huyện của các hội nghị sơ kết, tổng kết (trước 1/7/2025)"
    title_en = "Demo data: the five districts of the review conferences (pre-July-2025 units)"
    note_vi = (
        "Ranh giới trong bộ dữ liệu mẫu là XẤP XỈ: đa giác xã là Voronoi dựng từ tâm xã của gói "
        f"{src_pkg} (bảng admin_units_legacy), cắt theo khung bao các xã; huyện là hợp các xã, "
        "tỉnh chỉ gồm các huyện mẫu. Tên, mã xã và xã kế thừa sau 1/7/2025 lấy từ gói đó; ấp/thôn và "
        "mô hình là giả lập theo số liệu báo cáo. Không dùng để đo đạc. Để dùng ranh giới chính thức: "
        "đặt tệp GeoJSON/Shapefile/GeoPackage của xã, ấp vào boundaries/ của một thư mục dữ liệu, liệt kê "
        "trong dataset.toml và chạy geo-antt với --data THƯ_MỤC."
    )
    note_en = (
        "Demo boundaries are APPROXIMATE: commune polygons are a Voronoi tessellation of the commune "
        f"centroids of the {src_pkg} package (table admin_units_legacy), clipped to the communes' "
        "bounding boxes; districts are unions of communes, provinces cover only the demo districts. "
        "Commune names, codes and post-1-July-2025 successors come from that package; hamlets and "
        "models are generated from the report figures. Not for measurement. To use official "
        "boundaries: put the commune/hamlet GeoJSON, Shapefile or GeoPackage files in the boundaries/ "
        "folder of a data directory, list them in its dataset.toml and run geo-antt with --data DIR."
    )
    lines = [
        "# Generated by `geo-antt demo build` (geo_antt.io.demo.build_demo); do not edit by hand.",
        f"title = {{ vi = {_toml_str(title_vi)}, en = {_toml_str(title_en)} }}",
        f"note = {{ vi = {_toml_str(note_vi)}, en = {_toml_str(note_en)} }}",
        "approximate = true",
        f"seed = {int(seed)}",
        f"source = {_toml_str(src_pkg + ' (MIT); geo-antt demo generator')}",
        "units = [" + ", ".join(_toml_str(u) for u in units) + "]",
        "models = [" + ", ".join(_toml_str(m) for m in models) + "]",
    ]
    return "\n".join(lines) + "\n"


_UNIT_FILES = (
    ("province", "boundaries/provinces.geojson"),
    ("district", "boundaries/districts.geojson"),
    ("commune", "boundaries/communes.geojson"),
    ("hamlet", "boundaries/hamlets.geojson"),
)
MODELS_FILE = "models/models.geojson"


def build_demo(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Generate the demo dataset into ``out_dir`` (created if needed).

    Parameters
    ----------
    out_dir
        The dataset directory to write: ``dataset.toml``, ``boundaries/*.geojson`` and
        ``models/models.geojson``. Existing files of these names are replaced atomically.
    seed
        Seed of the generated hamlets and models; the same seed writes the same bytes.

    Returns
    -------
    dict
        ``{"dataset": path, "provinces": path, "districts": path, "communes": path,
        "hamlets": path, "models": path}``.

    Raises
    ------
    GeoAnttError
        When the data of ``vietnamadminunits`` do not match the demo districts.
    """
    out = Path(out_dir)
    src_pkg = f"vietnamadminunits {_pkg_version('vietnamadminunits')}"
    communes = demo_communes()
    units, hamlet_info = _build_boundaries(communes, seed=seed, src_pkg=src_pkg)
    models = _build_models(communes, hamlet_info, seed=seed)

    written: dict[str, Path] = {}
    level_order = {"province": 0, "district": 1, "commune": 2, "hamlet": 3}
    units.sort(key=lambda u: (level_order[u.level], u.code))
    for level, rel in _UNIT_FILES:
        feats = []
        for u in units:
            if u.level != level:
                continue
            props: dict[str, Any] = {
                "code": u.code,
                "name": u.name,
                "level": u.level,
                "parent_code": u.parent_code,
                "approximate": True,
                "valid_from": None,
                "valid_to": u.valid_to,
                "unit_type": u.unit_type,
            }
            props.update(u.extra or {})
            props["source"] = u.source
            feats.append((props, u.geometry))
        path = out / rel
        write_atomic(path, _feature_collection(Path(rel).stem, feats))
        written[Path(rel).stem] = path

    from ..schema import MODEL_COLUMNS

    feats = []
    for r in models:
        props = {c: r[c] for c in MODEL_COLUMNS}
        props["approximate"] = True
        props["source"] = r["_src"]
        feats.append((props, r["_geom"]))
    path = out / MODELS_FILE
    write_atomic(path, _feature_collection("models", feats))
    written["models"] = path

    path = out / "dataset.toml"
    write_atomic(
        path, _dataset_toml(seed=seed, src_pkg=src_pkg, units=[r for _, r in _UNIT_FILES], models=[MODELS_FILE])
    )
    written["dataset"] = path
    return written
