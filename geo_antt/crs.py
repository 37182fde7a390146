"""All CRS handling: pick a metric CRS, project to it, back to WGS84, and guard metric code.

geo-antt stores everything in EPSG:4326 and computes distances and areas in metres: the UTM zone
of the data (48N west of 108°E, 49N east) unless a CRS is named. VN-2000 inputs (EPSG:3405/3406,
the TM-3 provincial zones 5896-5899 and 9205-9218) are read like any other CRS.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import TransverseMercatorConversion
from pyproj.exceptions import CRSError as _PyprojCRSError

from ._errors import CRSError
from ._threads import chunk_bounds, map_chunks, threaded

__all__ = [
    "WGS84",
    "VN2000_CRS",
    "VIETNAM_BOUNDS",
    "parse_crs",
    "utm_crs_for_lon",
    "utm_area_error",
    "VN2000_TM3_MERIDIANS",
    "EQUAL_AREA_CRS",
    "EQUAL_AREA_PROJ",
    "vn2000_crs_for_lon",
    "VN2000_PROVINCE_MERIDIANS",
    "VN2000_PROVINCES_2025",
    "vn2000_tm3_crs",
    "province_meridian",
    "vn2000_crs_for_province",
    "partition_crs",
    "metric_crs_for",
    "to_metric",
    "project",
    "to_wgs84",
    "repair_invalid",
    "require_metric",
]

WGS84 = CRS.from_epsg(4326)
# VN-2000 national UTM (3405 = 48N, 3406 = 49N) and TM-3 zones (5896-5899, 9205-9218).
VN2000_CRS = (3405, 3406, *range(5896, 5900), *range(9205, 9219))
# lon/lat box of Vietnam with its islands, generous (degrees): Trường Sa reaches 117.83°E and
# 7.18°N in the national boundary data.
VIETNAM_BOUNDS = (102.0, 7.0, 118.0, 23.5)


def parse_crs(value: object, *, what: str = "crs") -> CRS:
    """Return a :class:`pyproj.CRS` for ``value`` ("EPSG:32648", 32648, WKT, a CRS...).

    Raises
    ------
    CRSError
        When pyproj does not know ``value``; the message names ``what``.
    """
    if isinstance(value, CRS):
        return value
    if type(value) in (str, int):  # the same text names the same CRS: made once (CRS is immutable)
        return _parse_cached(value, what)
    return _parse(value, what)


@lru_cache(maxsize=64)
def _parse_cached(value: str | int, what: str) -> CRS:
    return _parse(value, what)


def _parse(value: object, what: str) -> CRS:
    try:
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            return CRS.from_epsg(int(value))
        return CRS.from_user_input(value)
    except (_PyprojCRSError, TypeError, ValueError) as exc:
        msg = f"{what}: unknown coordinate reference system {value!r} ({exc}); give e.g. EPSG:32648 (UTM 48N), EPSG:32649 (UTM 49N) or EPSG:3405 (VN-2000 / UTM 48N)"
        raise CRSError(msg) from None


def utm_crs_for_lon(lon: float) -> CRS:
    """WGS 84 / UTM 48N (EPSG:32648) west of 108°E, 49N (EPSG:32649) east of it; the generic
    UTM zone formula outside Vietnam.
    """
    zone = int((lon + 180.0) // 6.0) + 1
    return CRS.from_epsg(32600 + max(1, min(60, zone)))


# Warn when one UTM zone would distort the data's areas by more than this (fraction).
UTM_AREA_ERROR_WARN = 0.01
_UTM_K0 = 0.9996


def utm_area_error(bounds: tuple[float, float, float, float], zone_crs: CRS) -> float:
    """The largest relative area error of a Transverse Mercator CRS (a UTM zone, a VN-2000 TM-3
    zone) over a lon/lat box (degrees): the area scale k² of Transverse Mercator,
    k ≈ k0 (1 + (Δλ cos φ)² / 2), at the box's corner farthest from the central meridian and
    nearest the equator, and at the meridian itself (``|k²| - 1``; 0.0019 = 0.19 %). k0 is the
    CRS's own scale factor (0.9996 for UTM, 0.9999 for TM-3); 0.0 for a CRS that is not
    Transverse Mercator.

    Examples
    --------
    >>> round(100 * utm_area_error((102.1, 7.2, 117.8, 23.4), CRS.from_epsg(32649)), 1)  # all Vietnam
    2.3
    """
    lon0 = _central_meridian(zone_crs)
    if lon0 is None:
        return 0.0
    k0 = _scale_factor(zone_crs)
    minx, miny, maxx, maxy = bounds
    dlon = math.radians(max(abs(minx - lon0), abs(maxx - lon0)))
    lat = 0.0 if miny <= 0.0 <= maxy else min(abs(miny), abs(maxy))
    x = dlon * math.cos(math.radians(lat))
    k_edge, k_mid = k0 * (1.0 + x * x / 2.0), k0
    return max(abs(k_edge * k_edge - 1.0), abs(k_mid * k_mid - 1.0))


def _scale_factor(crs: CRS) -> float:
    op = crs.coordinate_operation
    for p in op.params if op is not None else ():
        if p.name.lower().startswith("scale factor"):
            return float(p.value)
    return _UTM_K0


# Central meridians (degrees east) of the VN-2000 TM-3 zones EPSG knows (k0 = 0.9999): the
# provincial zones of Circular 973/2001/TT-TCĐC (9205-9218, 5899) and the 3° zones 481, 482 and
# 491 (5896-5898). East of 110°E VN-2000 has only its UTM 49N (EPSG:3406).
VN2000_TM3_MERIDIANS: dict[float, int] = {
    102.0: 5896,
    103.0: 9205,
    104.0: 9206,
    104.5: 9207,
    104.75: 9208,
    105.0: 5897,
    105.5: 9209,
    105.75: 9210,
    106.0: 9211,
    106.25: 9212,
    106.5: 9213,
    107.0: 9214,
    107.25: 9215,
    107.5: 9216,
    107.75: 5899,
    108.0: 5898,
    108.25: 9217,
    108.5: 9218,
}
_VN2000_TM3_EAST_LIMIT = 110.0
# Albers equal-area conic over Vietnam (the projection of ../shared/data/national/NATIONAL.md):
# for a unit no Transverse Mercator zone measures (wider than a zone): areas exact, metres.
EQUAL_AREA_PROJ = "+proj=aea +lat_0=16 +lon_0=106 +lat_1=10 +lat_2=22 +datum=WGS84 +units=m +no_defs"
EQUAL_AREA_CRS = CRS.from_proj4(EQUAL_AREA_PROJ)


# Central meridian (kinh tuyến trục, degrees east) of the VN-2000 TM-3 zone of each province,
# Circular 973/2001/TT-TCĐC (Phụ lục), keyed by the official (GSO) code of the 63 provinces before
# 1 July 2025. The 34 provinces since then (Resolution 202/2025/QH15) kept the code of the former
# province that hosts their seat (e.g. 52 Gia Lai: seat Quy Nhơn, Bình Định's code; 80 Tây Ninh:
# Long An's; 91 An Giang: Kiên Giang's), so a post-2025 code gets its seat's meridian from this
# same table (for 52: Bình Định's 108°15', not Gia Lai's 108°30').
VN2000_PROVINCE_MERIDIANS: dict[str, float] = {
    "01": 105.0,  # Hà Nội
    "02": 105.5,  # Hà Giang
    "04": 105.75,  # Cao Bằng
    "06": 106.5,  # Bắc Kạn
    "08": 106.0,  # Tuyên Quang
    "10": 104.75,  # Lào Cai
    "11": 103.0,  # Điện Biên
    "12": 103.0,  # Lai Châu
    "14": 104.0,  # Sơn La
    "15": 104.75,  # Yên Bái (since 2025: Lào Cai)
    "17": 106.0,  # Hòa Bình
    "19": 106.5,  # Thái Nguyên
    "20": 107.25,  # Lạng Sơn
    "22": 107.75,  # Quảng Ninh
    "24": 107.0,  # Bắc Giang (since 2025: Bắc Ninh)
    "25": 104.75,  # Phú Thọ
    "26": 105.0,  # Vĩnh Phúc
    "27": 105.5,  # Bắc Ninh
    "30": 105.5,  # Hải Dương
    "31": 105.75,  # Hải Phòng
    "33": 105.5,  # Hưng Yên
    "34": 105.5,  # Thái Bình
    "35": 105.0,  # Hà Nam
    "36": 105.5,  # Nam Định
    "37": 105.0,  # Ninh Bình
    "38": 105.0,  # Thanh Hóa
    "40": 104.75,  # Nghệ An
    "42": 105.5,  # Hà Tĩnh
    "44": 106.0,  # Quảng Bình (since 2025: Quảng Trị)
    "45": 106.25,  # Quảng Trị
    "46": 107.0,  # Thừa Thiên Huế (since 2025: Huế)
    "48": 107.75,  # Đà Nẵng
    "49": 107.75,  # Quảng Nam
    "51": 108.0,  # Quảng Ngãi
    "52": 108.25,  # Bình Định (since 2025: Gia Lai)
    "54": 108.5,  # Phú Yên
    "56": 108.25,  # Khánh Hòa
    "58": 108.25,  # Ninh Thuận
    "60": 108.5,  # Bình Thuận
    "62": 107.5,  # Kon Tum
    "64": 108.5,  # Gia Lai
    "66": 108.5,  # Đắk Lắk
    "67": 108.5,  # Đắk Nông
    "68": 107.75,  # Lâm Đồng
    "70": 106.25,  # Bình Phước
    "72": 105.5,  # Tây Ninh
    "74": 105.75,  # Bình Dương
    "75": 107.75,  # Đồng Nai
    "77": 107.75,  # Bà Rịa - Vũng Tàu
    "79": 105.75,  # TP Hồ Chí Minh
    "80": 105.75,  # Long An (since 2025: Tây Ninh)
    "82": 105.75,  # Tiền Giang (since 2025: Đồng Tháp)
    "83": 105.75,  # Bến Tre
    "84": 105.5,  # Trà Vinh
    "86": 105.5,  # Vĩnh Long
    "87": 105.0,  # Đồng Tháp
    "89": 104.75,  # An Giang
    "91": 104.5,  # Kiên Giang (since 2025: An Giang)
    "92": 105.0,  # Cần Thơ
    "93": 105.0,  # Hậu Giang
    "94": 105.5,  # Sóc Trăng
    "95": 105.0,  # Bạc Liêu
    "96": 104.5,  # Cà Mau
}
# The post-2025 province codes (all of them codes of the table above: their seat's province).
VN2000_PROVINCES_2025 = (
    "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40",
    "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96",
)  # fmt: skip


def vn2000_tm3_crs(meridian: float) -> CRS:
    """The VN-2000 TM-3 zone of central meridian ``meridian`` (degrees east; k0 = 0.9999, false
    easting 500 km): its EPSG code when EPSG has one, else the same Transverse Mercator on the
    VN-2000 geographic CRS (EPSG:4756, with its own shift to WGS 84).

    Examples
    --------
    >>> vn2000_tm3_crs(107.75).to_epsg()
    5899
    """
    epsg = VN2000_TM3_MERIDIANS.get(float(meridian))
    if epsg is not None:
        return CRS.from_epsg(epsg)
    conversion = TransverseMercatorConversion(
        latitude_natural_origin=0.0,
        longitude_natural_origin=float(meridian),
        false_easting=500_000.0,
        false_northing=0.0,
        scale_factor_natural_origin=0.9999,
    )
    name = f"VN-2000 / TM-3 {int(meridian)}-{round(meridian % 1 * 60):02d}"
    return CRS(ProjectedCRS(conversion, name=name, geodetic_crs=CRS.from_epsg(4756)))


def province_meridian(code: object) -> float | None:
    """The official VN-2000 central meridian of a province (:data:`VN2000_PROVINCE_MERIDIANS`)
    from its GSO code (``"01"``, ``"1"`` or ``1``); None for a code not in the table.

    Examples
    --------
    >>> province_meridian("48")  # Đà Nẵng: 107°45'
    107.75
    """
    if code is None or code != code:  # NaN
        return None
    text = str(code).strip()
    if text.isdigit() and len(text) <= 2:
        text = text.zfill(2)
    return VN2000_PROVINCE_MERIDIANS.get(text)


def vn2000_crs_for_province(code: object) -> CRS | None:
    """The VN-2000 TM-3 zone Circular 973/2001/TT-TCĐC fixes for a province (GSO code), or None
    when the code is not a province code of the table.

    Examples
    --------
    >>> vn2000_crs_for_province("01").to_epsg()  # Hà Nội: 105°00'
    5897
    """
    meridian = province_meridian(code)
    return None if meridian is None else vn2000_tm3_crs(meridian)


def vn2000_crs_for_lon(lon: float) -> CRS:
    """The VN-2000 TM-3 zone whose central meridian is nearest ``lon`` (degrees east; ties go
    west), VN-2000 / UTM 49N (EPSG:3406) east of 110°E, where no TM-3 zone is defined.

    Examples
    --------
    >>> vn2000_crs_for_lon(105.8).to_epsg()  # Hà Nội: 105°45'
    9210
    >>> vn2000_crs_for_lon(114.0).to_epsg()
    3406
    """
    if lon > _VN2000_TM3_EAST_LIMIT:
        return CRS.from_epsg(3406)
    meridian = min(VN2000_TM3_MERIDIANS, key=lambda m: (abs(m - lon), m))
    return CRS.from_epsg(VN2000_TM3_MERIDIANS[meridian])


def partition_crs(bounds: tuple[float, float, float, float], *, system: str = "utm", province: object = None) -> CRS:
    """The metric CRS of one partition of a national run, from its lon/lat box (degrees): the
    UTM zone of the box's centre (``system="utm"``: EPSG:32648 west of 108°E, 32649 east), or
    for ``"vn2000"`` the official TM-3 zone of ``province`` (its GSO code,
    :func:`vn2000_crs_for_province`) when it is one of the table, else the VN-2000 TM-3 zone
    nearest the box's centre (:func:`vn2000_crs_for_lon`).

    Raises
    ------
    CRSError
        An unknown ``system``.
    """
    minx, _, maxx, _ = bounds
    lon = (minx + maxx) / 2.0
    if system == "utm":
        return utm_crs_for_lon(lon)
    if system == "vn2000":
        official = vn2000_crs_for_province(province) if province is not None else None
        return official if official is not None else vn2000_crs_for_lon(lon)
    msg = f"unknown partition CRS system {system!r}: use 'utm' or 'vn2000'"
    raise CRSError(msg)


def _central_meridian(crs: CRS) -> float | None:
    op = crs.coordinate_operation
    if op is None or "Transverse Mercator" not in (op.method_name or ""):
        return None
    for p in op.params:
        if p.name.lower().startswith("longitude of natural origin"):
            return float(p.value)
    return None


def metric_crs_for(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, crs: object = None) -> CRS:
    """The metric CRS to compute ``gdf`` in: ``crs`` when given (must be projected, in metres),
    else the UTM zone of the centre of its bounds.

    Data wider than a UTM zone (a whole region or the country: 102-118°E) is distorted at the
    zone's far edge; a ``UserWarning`` says by how much when areas would be off by more than
    1 % (:func:`utm_area_error`): name a CRS, or compute each zone's provinces apart.
    """
    if crs is not None:
        c = parse_crs(crs)
        _check_metric(c, what=str(crs))
        return c
    if gdf.crs is None:
        raise CRSError("data has no CRS: say which one it is in (e.g. EPSG:4326 or EPSG:3405)")
    if gdf.crs.is_projected and _is_metres(gdf.crs):
        return _crs_of(gdf)
    g = gdf.to_crs(WGS84) if not _crs_of(gdf).equals(WGS84) else gdf
    minx, miny, maxx, maxy = g.total_bounds
    if not all(map(lambda v: v == v, (minx, maxx))):  # NaN: empty frame
        raise CRSError("cannot choose a metric CRS for empty data")
    zone = utm_crs_for_lon((minx + maxx) / 2.0)
    err = utm_area_error((minx, miny, maxx, maxy), zone)
    if err > UTM_AREA_ERROR_WARN:
        warnings.warn(
            f"the data spans {minx:.1f}-{maxx:.1f}°E, wider than one UTM zone: in {zone.name} "
            f"(EPSG:{zone.to_epsg()}) its areas, and the covered shares, are off by up to {100 * err:.1f} % "
            "at the far edge; name a metric CRS (--crs) or run each zone's provinces apart",
            UserWarning,
            stacklevel=2,
        )
    return zone


def _crs_of(gdf) -> CRS:
    """``CRS(gdf.crs)``: geopandas already holds a :class:`pyproj.CRS` (no copy made)."""
    c = gdf.crs
    return c if isinstance(c, CRS) else CRS(c)


def _is_metres(crs: CRS) -> bool:
    try:
        return all((ax.unit_name or "").lower() in ("metre", "meter", "m") for ax in crs.axis_info)
    except Exception:  # pragma: no cover - exotic CRS
        return False


def _check_metric(crs: CRS, *, what: str) -> None:
    if not crs.is_projected or not _is_metres(crs):
        msg = f"{what} is not a projected CRS in metres; distances and areas need one (e.g. EPSG:32648)"
        raise CRSError(msg)


def to_metric(gdf, *, crs: object = None):
    """Project ``gdf`` (GeoDataFrame or GeoSeries) to a metric CRS (``crs`` or its UTM zone)."""
    if gdf.crs is None:
        raise CRSError("data has no CRS: say which one it is in (e.g. EPSG:4326 or EPSG:3405)")
    target = metric_crs_for(gdf, crs=crs)
    if _crs_of(gdf).equals(target):
        return gdf
    return project(gdf, target)


def to_wgs84(gdf, *, make_valid: bool = False):
    """Project ``gdf`` to EPSG:4326 (lon/lat), the CRS geo-antt stores and exports.

    ``make_valid``: also repair (``shapely.make_valid``) the rare polygon that the
    reprojection makes self-touching; the others are kept as they are.
    """
    if gdf.crs is None:
        raise CRSError("data has no CRS: say which one it is in (e.g. EPSG:4326 or EPSG:3405)")
    out = gdf if _crs_of(gdf).equals(WGS84) else project(gdf, WGS84)
    if make_valid and len(out):
        g = out.geometry.to_numpy()
        repaired = repair_invalid(g)
        if repaired is not g:
            out = out.set_geometry(gpd.GeoSeries(repaired, index=out.index, crs=out.crs))
    return out


def repair_invalid(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` with its invalid geometries made valid (a copy), or ``geoms`` itself when all
    are valid. The validity checks run over the cores.
    """
    bad = ~threaded(shapely.is_valid, geoms, min_chunk=64)
    if not bad.any():
        return geoms
    out = geoms.copy()
    out[bad] = shapely.make_valid(out[bad])
    return out


# Under this many coordinates one call of GeoDataFrame.to_crs is as fast.
_THREADED_COORDS = 100_000


def project(gdf, crs):
    """``gdf.to_crs(crs)`` for a GeoDataFrame or GeoSeries, the same coordinates, computed
    over the cores for large data (PROJ releases the GIL; one transformer per thread).
    """
    if gdf.crs is None:
        raise CRSError("data has no CRS: say which one it is in (e.g. EPSG:4326 or EPSG:3405)")
    target = parse_crs(crs)
    src = _crs_of(gdf)
    geoms = (
        np.asarray(gdf.geometry.array, dtype=object)
        if isinstance(gdf, gpd.GeoDataFrame)
        else np.asarray(gdf.array, dtype=object)
    )
    if (
        src.is_exact_same(target)
        or shapely.get_num_coordinates(geoms).sum() < _THREADED_COORDS
        or shapely.has_z(geoms).any()
    ):
        return gdf.to_crs(target)
    coords = shapely.get_coordinates(geoms)

    def run(a: int, b: int) -> np.ndarray:
        x, y = Transformer.from_crs(src, target, always_xy=True).transform(coords[a:b, 0], coords[a:b, 1])
        return np.column_stack([x, y])

    new = shapely.set_coordinates(
        geoms.copy(), np.concatenate(map_chunks(run, chunk_bounds(len(coords), min_chunk=_THREADED_COORDS // 4)))
    )
    if isinstance(gdf, gpd.GeoSeries):
        return gpd.GeoSeries(new, index=gdf.index, name=gdf.name, crs=target)
    out = gdf.copy(deep=False)
    out[gdf.geometry.name] = gpd.GeoSeries(new, index=gdf.index, crs=target)
    return out


def require_metric(gdf, *, what: str = "data") -> None:
    """Raise :class:`CRSError` unless ``gdf`` is in a projected CRS in metres."""
    if gdf.crs is None:
        raise CRSError(f"{what} has no CRS; metric computations need a projected CRS in metres")
    crs = _crs_of(gdf)
    if not crs.is_projected or not _is_metres(crs):  # the message (to_string is slow) only then
        _check_metric(crs, what=f"{what} CRS {crs.to_string()}")
