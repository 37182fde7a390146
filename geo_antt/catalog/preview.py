"""The footprint a model would have where the map editor puts it, before it is saved.

While an officer drags a camera or turns it, the editor draws its plain sector at once and asks
:func:`preview_footprint` (``POST /api/edit/footprint``) for what the camera would really see:
the sector cut by the buildings of the catalog, computed exactly as coverage computes it
(:func:`geo_antt.footprints.footprints`, then :func:`geo_antt.coverage.occluded_footprints` with
the buildings near the camera only: the live catalog's disjoint building pieces, made once per
full build, found by one query of their STRtree), in the catalog's metric CRS.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from .._errors import GeoAnttError
from ..coverage import building_pieces, occluded_footprints
from ..crs import WGS84, metric_crs_for
from ..footprints import footprints
from ..io.geojson import round_coordinates
from ..layers import LayerSpec
from ._catalog import Catalog

__all__ = ["preview_footprint"]

_DEG_PER_M_LAT = 1.0 / 111_320.0  # degrees of latitude per metre (a bound, not a projection)


def _buildings_near(cat: Catalog, bounds: tuple[float, float, float, float]) -> gpd.GeoDataFrame | None:
    """The catalog's buildings whose boxes meet ``bounds`` (lon/lat); for a catalog without
    the live catalog's ready-made pieces (a dataset's, or a tier's).
    """
    buildings = getattr(cat, "buildings", None)
    if buildings is None or not len(buildings):
        return None
    return buildings.iloc[np.flatnonzero(shapely.intersects(buildings.geometry.to_numpy(), shapely.box(*bounds)))]


def _pieces_near(cat: Catalog, crs: Any, bounds_m: np.ndarray) -> np.ndarray | None:
    """The live catalog's buildings made disjoint once per full build, in its metric CRS
    (what coverage cuts the footprints with), whose boxes meet ``bounds_m`` (metres): one
    query of their STRtree. None when the catalog has none, or they are in another CRS.
    """
    sh = getattr(getattr(cat, "_live", None), "shared", None)
    pieces = getattr(sh, "building_pieces_m", None)
    tree = getattr(sh, "building_pieces_tree", None)
    metric = getattr(getattr(sh, "settings", None), "metric_crs", None)
    if pieces is None or tree is None or metric is None or not CRS.from_user_input(metric).equals(crs):
        return None
    return np.asarray(pieces, dtype=object)[np.unique(tree.query(shapely.box(*bounds_m)))]


def preview_footprint(cat: Catalog, record: Mapping[str, Any], *, specs: Mapping[str, LayerSpec]) -> dict[str, Any]:
    """The footprint of a model that is not stored (yet) as a GeoJSON Feature (lon/lat).

    Parameters
    ----------
    cat
        The catalog whose buildings hide what lies behind them, and whose metric CRS is used
        (the UTM zone of the data when it has none).
    record
        A model record as :meth:`geo_antt.store.Store.check_model` returns it (normalised,
        parameters within their kind's bounds): ``kind``, ``geometry`` (lon/lat) and the kind's
        parameters (``direction_deg`` degrees clockwise from north, ``fov_deg`` degrees,
        ``range_m`` / ``radius_m`` / ``height_m`` metres).
    specs
        Layer specs by kind.

    Returns
    -------
    dict
        A Feature: the visible footprint (coordinates rounded to 7 decimals) with properties
        ``area_m2`` (m², what it sees), ``sector_m2`` (m², the footprint without buildings),
        ``occluded`` (whether buildings were taken into account: the kind's layer file says
        ``occluded = true`` and buildings lie near), ``buildings`` (how many buildings near were
        considered, overlapping ones counted once: they are made disjoint as coverage does) and ``inside_building`` (the position lies inside a building: usually a
        mounting error).

    Raises
    ------
    GeoAnttError
        The kind has no footprint, or the model has no location.
    """
    kind = record.get("kind")
    spec = specs.get(str(kind))
    geom = record.get("geometry")
    if spec is None or spec.footprint == "none":
        raise GeoAnttError(f"a model of kind {kind!r} has no footprint to preview")
    if geom is None:
        raise GeoAnttError("a footprint preview needs the model's location (geometry)")
    models = gpd.GeoDataFrame([dict(record)], geometry=[geom], crs=WGS84, index=["preview"])
    models.index.name = "id"
    settings_crs = getattr(getattr(getattr(cat, "_live", None), "shared", None), "settings", None)
    crs = metric_crs_for(models, crs=getattr(settings_crs, "metric_crs", None))
    models_m = models.to_crs(crs)
    fp = footprints(models_m, specs=specs)
    if not len(fp):
        raise GeoAnttError(f"a model of kind {kind!r} at this location has no footprint")
    sector_m2 = float(shapely.area(fp.geometry.to_numpy()).sum())
    n_near, inside = 0, False
    occluded = False
    if spec.occluded:
        bm = fp.total_bounds + np.array([-1.0, -1.0, 1.0, 1.0])  # a metre of margin: a wall on the edge counts
        pieces = _pieces_near(cat, crs, bm)
        if pieces is None:
            b = fp.to_crs(WGS84).total_bounds
            pad = 1.0 * _DEG_PER_M_LAT
            near = _buildings_near(cat, (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad))
            pieces = building_pieces(near, crs) if near is not None and len(near) else None
        if pieces is not None and len(pieces):
            n_near = len(pieces)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fp = occluded_footprints(fp, models_m, pieces, specs=specs)
            inside = any("inside a building" in str(w.message) for w in caught)
            occluded = True
    out = fp.to_crs(WGS84)
    g = round_coordinates(out.geometry.to_numpy(), 7)[0] if len(out) else None
    return {
        "type": "Feature",
        "id": None,
        "geometry": None if g is None or shapely.is_empty(g) else shapely.geometry.mapping(g),
        "properties": {
            "kind": str(kind),
            "area_m2": round(float(shapely.area(fp.geometry.to_numpy()).sum()), 2),
            "sector_m2": round(sector_m2, 2),
            "occluded": occluded,
            "buildings": n_near,
            "inside_building": inside,
        },
    }
