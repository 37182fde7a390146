"""Hamlets given as points (a table or a point layer): read, then turned into polygons by
:func:`geo_antt.units.hamlets_from_points`.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import shapely

from .._errors import GeoAnttError, Problem, ValidationError
from ..crs import WGS84, metric_crs_for
from ..text import fold_key
from ..units import _commune_of_points, hamlets_from_points
from ._readers import _as_code, _as_text, _check_lonlat
from .cells import ParseError, is_blank, parse_coordinate
from .models import _read_csv_table, _read_xlsx_table
from .vector import _read_unit_frame

__all__ = ["read_hamlets"]


def read_hamlets(
    path: str | os.PathLike[str],
    communes: gpd.GeoDataFrame,
    *,
    columns: dict[str, str] | None = None,
    crs: object = None,
    encoding: str | None = None,
    layer: str | None = None,
    metric_crs: object = None,
) -> gpd.GeoDataFrame:
    """Read hamlets as polygons or as centre points (then built with :func:`hamlets_from_points`).

    Parameters
    ----------
    path
        GeoJSON, Shapefile or GeoPackage of hamlet polygons or points (see
        :func:`geo_antt.io.read_units` for the column mapping, CRS and encoding options), or a
        CSV/XLSX table of hamlet centres: code (mã thôn/ấp), name (tên thôn), commune code
        (mã xã, optional) and lat/lon (vĩ độ/kinh độ, decimal or DMS). ``layer`` names the
        XLSX sheet.
    communes
        The communes the hamlets belong to (units frame). Polygon hamlets without a
        ``parent_code`` get the commune containing their representative point.
    metric_crs
        CRS (metres) of the Voronoi construction for point hamlets.

    Returns
    -------
    GeoDataFrame
        Units frame with ``level="hamlet"``; ``approximate`` is True for point-built hamlets.
    """
    if Path(path).suffix.lower() in (".csv", ".txt", ".xlsx", ".xlsm"):
        frame = _hamlet_points_table(Path(path), columns=columns, sheet=layer)
        return hamlets_from_points(frame, communes, metric_crs=metric_crs, source=str(path))
    frame = _read_unit_frame(
        path, level="hamlet", columns=columns, crs=crs, encoding=encoding, layer=layer, points=None
    )
    types = set(frame.geom_type)
    if types <= {"Point"}:
        return hamlets_from_points(frame, communes, metric_crs=metric_crs, source=str(path))
    # polygons: fill missing parents from the commune containing each hamlet
    if "level" in communes.columns and (communes["level"] == "commune").any():
        communes = communes[communes["level"] == "commune"]
    missing = frame["parent_code"].isna().to_numpy()
    if missing.any():
        crs_m = metric_crs_for(communes, crs=metric_crs)
        reps = frame.geometry[missing].to_crs(crs_m).representative_point()
        found = _commune_of_points(reps, communes.to_crs(crs_m))
        parents = frame["parent_code"].astype(object).to_numpy().copy()
        parents[missing] = found
        frame["parent_code"] = parents
    unknown = [(i, p) for i, p in enumerate(frame["parent_code"]) if p is not None and p not in communes.index]
    none = [frame.index[i] for i, p in enumerate(frame["parent_code"]) if p is None]
    if unknown or none:
        problems = [Problem(str(path), i + 1, "parent_code", p, "commune not among the communes") for i, p in unknown]
        problems += [Problem(str(path), None, "geometry", c, "hamlet lies in no commune") for c in none]
        raise ValidationError(problems)
    return frame


def _hamlet_points_table(path: Path, *, columns: dict[str, str] | None, sheet: str | None) -> gpd.GeoDataFrame:
    """Hamlet centres from a CSV/XLSX table (code, name, commune code, lat, lon)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, rownums, cols, _notes = _read_xlsx_table(path, sheet)
    else:
        header, rownums, cols, _notes = _read_csv_table(path)
    keys = {fold_key(h): j for j, h in reversed(list(enumerate(header)))}
    where: dict[str, int] = {}
    for field_, aliases in _POINT_HEADERS.items():
        want = (columns or {}).get(field_)
        cands = (want,) if want else aliases
        j = next((keys[fold_key(a)] for a in cands if fold_key(a) in keys), None)
        if j is not None:
            where[field_] = j
    missing = [f for f in ("code", "lat", "lon") if f not in where]
    if missing:
        raise GeoAnttError(
            f"{path}: no column for {', '.join(missing)} (e.g. mã thôn, vĩ độ, kinh độ); the header is {header}"
        )
    problems: list[Problem] = []
    rows = []
    for k, rownum in enumerate(rownums):
        cell = {f: cols[j][k] for f, j in where.items()}
        code = _as_code(cell.get("code"))
        if code is None:
            problems.append(Problem(str(path), rownum, header[where["code"]], None, "missing hamlet code"))
            continue
        try:
            lat = parse_coordinate(cell["lat"], axis="lat") if not is_blank(cell["lat"]) else None
            lon = parse_coordinate(cell["lon"], axis="lon") if not is_blank(cell["lon"]) else None
        except ParseError as exc:
            problems.append(Problem(str(path), rownum, None, f"{cell['lat']}, {cell['lon']}", str(exc)))
            continue
        if lat is None or lon is None:
            problems.append(Problem(str(path), rownum, header[where["lat"]], None, "missing coordinates"))
            continue
        why = _check_lonlat(lon, lat)
        if why:
            problems.append(Problem(str(path), rownum, header[where["lat"]], f"{lat:g}, {lon:g}", why))
            continue
        rows.append(
            {
                "code": code,
                "name": _as_text(cell.get("name")) or code,
                "parent_code": _as_code(cell.get("parent_code")),
                "geometry": shapely.Point(lon, lat),
            }
        )
    if problems:
        raise ValidationError(problems)
    return (
        gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
        if rows
        else gpd.GeoDataFrame({"code": []}, geometry=[], crs=WGS84)
    )


_POINT_HEADERS = {
    "code": ("ma_thon", "ma_ap", "ma_to_dan_pho", "ma_thon_ap", "hamlet_code", "ma", "code", "id"),
    "name": (
        "ten_thon",
        "ten_ap",
        "ten_to_dan_pho",
        "ten_thon_ap",
        "hamlet",
        "hamlet_name",
        "ten",
        "name",
        "thon",
        "ap",
    ),
    "parent_code": ("ma_xa", "commune_code", "commune_code_2025", "commune_code_gso", "parent_code", "ma_phuong_xa"),
    "lat": ("lat", "latitude", "vi_do", "vido"),
    "lon": ("lon", "lng", "long", "longitude", "kinh_do", "kinhdo"),
}
