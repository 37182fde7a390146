"""Terrain: the part of each footprint its model sees over the ground of a digital elevation
model (line of sight from ``height_m`` above the ground at the model).

Method, for footprints in one metric CRS (metres):

1. the models are grouped into square tiles (a few hundred cells a side); each tile reads one
   window of the elevation model, resampled to a grid of square cells aligned on the CRS's
   origin (:class:`ElevationSource`, e.g. :class:`geo_antt.io.dem.DemFile`);
2. per model, the viewshed over the window of its footprint's bounding box (one cell of margin):
   xarray-spatial's :func:`xrspatial.viewshed` (the sweep-line algorithm of GRASS'
   ``r.viewshed``; the viewpoint is the centre of the cell holding the model, ``height_m`` above
   that cell, and a cell is visible when its centre on the ground is). A viewshed per model is
   inherent; it never runs over more than the model's reach;
3. the hidden cells are turned into polygons (:func:`rasterio.features.shapes`, one polygon
   per 4-connected region) and cut out of the footprints by one vectorised ``difference``.

Cells without elevation (no data, outside the model) hide nothing and are never hidden. A model whose own cell
has no elevation is an error naming the elevation model and the models: terrain is then
unknown where it stands.

The numba functions of ``xrspatial.viewshed`` are compiled once per installation and cached
(``enable_caching``): the first compilation takes tens of seconds, a cached one well under one.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import numpy as np
import shapely
from pyproj import CRS

from ._errors import GeoAnttError

__all__ = ["Elevation", "ElevationSource", "terrain_footprints"]

# cells per side of the window a tile of models reads at most (bounded memory: 4 MB of float64)
_TILE_CELLS = 700


class Elevation(NamedTuple):
    """A window of an elevation model on a grid of square cells in a metric CRS.

    Attributes
    ----------
    values
        ``(rows, cols)`` float64, metres above the model's datum; row 0 is the northern row;
        NaN where there is no elevation.
    west, north
        Coordinates of the window's north-west corner (metres).
    res
        Side of one cell (metres).
    """

    values: np.ndarray
    west: float
    north: float
    res: float


class ElevationSource(Protocol):
    """Where elevations come from (e.g. a GeoTIFF: :class:`geo_antt.io.dem.DemFile`)."""

    #: Name of the source in messages (the file's path).
    name: str

    def resolution(self, crs: CRS) -> float:
        """Side of the cells of :meth:`read` in ``crs`` (metres)."""
        ...

    def read(self, bounds: tuple[float, float, float, float], crs: CRS) -> Elevation:
        """Elevations covering ``bounds`` (``minx, miny, maxx, maxy``, metres in ``crs``) on the
        grid of ``resolution(crs)`` aligned on the CRS's origin; NaN outside the source.
        """
        ...


def _viewshed():
    """xarray-spatial's viewshed, with its numba functions cached on disk (compiled once)."""
    import numba.core.dispatcher
    import xrspatial  # noqa: F401  (imports xrspatial.viewshed)

    module = sys.modules["xrspatial.viewshed"]
    if not getattr(module, "_geo_antt_cached", False):
        for value in vars(module).values():
            if isinstance(value, numba.core.dispatcher.Dispatcher):
                value.enable_caching()
        module._geo_antt_cached = True  # type: ignore[attr-defined]
    return module.viewshed


def _hidden_cells(
    window: np.ndarray, west: float, north: float, res: float, vx: float, vy: float, height_m: float
) -> object | None:
    """Polygons of the cells of ``window`` hidden from ``height_m`` above the cell holding
    ``(vx, vy)`` (None when none is).
    """
    import xarray as xr
    from rasterio.features import shapes
    from rasterio.transform import Affine

    known = np.isfinite(window)
    # xarray-spatial's sweep fails on some no-data cells: rows and columns without any
    # elevation (outside the model) are cut off, other no-data cells become pits far below the
    # window's lowest ground (a pit hides nothing; its own visibility is never used)
    keep_r, keep_c = np.flatnonzero(known.any(axis=1)), np.flatnonzero(known.any(axis=0))
    r0, r1, c0, c1 = keep_r[0], keep_r[-1] + 1, keep_c[0], keep_c[-1] + 1
    window, known = window[r0:r1, c0:c1], known[r0:r1, c0:c1]
    west, north = west + c0 * res, north - r0 * res
    z = np.where(known, window, np.nanmin(window) - 1e4)
    rows, cols = z.shape
    if rows < 2 or cols < 2:  # one row or column of ground: nothing stands between
        return None
    xs = west + (np.arange(cols) + 0.5) * res
    ys = north - (np.arange(rows) + 0.5) * res
    da = xr.DataArray(z, dims=["y", "x"], coords={"y": ys, "x": xs})
    with warnings.catch_warnings():  # numba says when it cannot write its cache (read-only install)
        warnings.filterwarnings("ignore", module="numba.*")
        vis = np.asarray(_viewshed()(da, x=vx, y=vy, observer_elev=height_m).values)
    hidden = (vis < 0) & known
    if not hidden.any():
        return None
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    polys = [shapely.geometry.shape(g) for g, _ in shapes(hidden.astype(np.uint8), mask=hidden, transform=transform)]
    return shapely.union_all(polys)


def terrain_footprints(
    geoms: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    height_m: np.ndarray,
    source: ElevationSource,
    crs: CRS,
    *,
    occluded: np.ndarray,
    ids: Sequence[object] | None = None,
) -> np.ndarray:
    """Footprints cut by the terrain: what each model sees of the ground from ``height_m``
    above it.

    Parameters
    ----------
    geoms
        Footprints (Polygons/MultiPolygons, metres in ``crs``); empty or missing ones stay so.
    x, y
        Each footprint's viewpoint (metres; NaN: none, e.g. a model placed by a line).
    height_m
        Height of each viewpoint above the ground (metres, >= 0).
    source
        The elevation model.
    crs
        The metric CRS of ``geoms``.
    occluded
        Which footprints the terrain hides anything from (their kind's ``occluded``).
    ids
        Model ids, aligned with ``geoms``, for messages (default: positions).

    Returns
    -------
    numpy.ndarray
        The footprints minus the ground they cannot see, aligned with the input.

    Raises
    ------
    GeoAnttError
        The elevation model has no elevation where a model stands (names the source and the
        models).
    """
    geoms = np.asarray(geoms, dtype=object)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    h = np.asarray(height_m, dtype=float)
    use = np.asarray(occluded, dtype=bool) & np.isfinite(x) & np.isfinite(y)
    use &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    out = geoms.copy()
    rows = np.flatnonzero(use)
    if not rows.size:
        return out
    res = float(source.resolution(crs))
    if not (math.isfinite(res) and res > 0):
        raise GeoAnttError(f"{source.name}: the elevation model has no usable cell size ({res!r} m)")
    # one viewshed per distinct viewpoint (the directions of one camera, a candidate site's
    # directions share it), over the box of all its footprints
    hv = np.where(np.isfinite(h[rows]), h[rows], 0.0)
    points, vp_of = np.unique(np.column_stack([x[rows], y[rows], hv]), axis=0, return_inverse=True)
    vp_of = vp_of.reshape(-1)
    fb = shapely.bounds(geoms[rows])
    n_vp = len(points)
    bounds = np.empty((n_vp, 4))
    bounds[:, :2] = np.inf
    bounds[:, 2:] = -np.inf
    np.minimum.at(bounds[:, 0], vp_of, fb[:, 0])
    np.minimum.at(bounds[:, 1], vp_of, fb[:, 1])
    np.maximum.at(bounds[:, 2], vp_of, fb[:, 2])
    np.maximum.at(bounds[:, 3], vp_of, fb[:, 3])
    vx, vy, vh = points[:, 0], points[:, 1], points[:, 2]
    tile = _TILE_CELLS * res / 2.0  # the tile's models plus their reach fit in about _TILE_CELLS cells
    reach = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    big = reach > tile
    key_x = np.floor(vx / tile).astype(np.int64)
    key_y = np.floor(vy / tile).astype(np.int64)
    # a model reaching further than a tile reads a window of its own
    key_x[big] = np.iinfo(np.int64).min + np.arange(int(big.sum()))
    order = np.lexsort((key_y, key_x))
    starts = np.flatnonzero(np.r_[True, (np.diff(key_x[order]) != 0) | (np.diff(key_y[order]) != 0)])
    ends = np.r_[starts[1:], len(order)]
    uncovered = np.zeros(n_vp, dtype=bool)
    hidden_vp = np.full(n_vp, None, dtype=object)
    for a, b in zip(starts, ends):
        members = order[a:b]
        minx, miny = bounds[members, 0].min() - 2 * res, bounds[members, 1].min() - 2 * res
        maxx, maxy = bounds[members, 2].max() + 2 * res, bounds[members, 3].max() + 2 * res
        elev = source.read((float(minx), float(miny), float(maxx), float(maxy)), crs)
        z = elev.values
        for m in members:
            col = math.floor((vx[m] - elev.west) / elev.res)
            row = math.floor((elev.north - vy[m]) / elev.res)
            if not (0 <= row < z.shape[0] and 0 <= col < z.shape[1] and math.isfinite(z[row, col])):
                uncovered[m] = True
                continue
            c0 = max(0, min(col, math.floor((bounds[m, 0] - elev.west) / elev.res) - 1))
            c1 = min(z.shape[1], max(col + 1, math.ceil((bounds[m, 2] - elev.west) / elev.res) + 1))
            r0 = max(0, min(row, math.floor((elev.north - bounds[m, 3]) / elev.res) - 1))
            r1 = min(z.shape[0], max(row + 1, math.ceil((elev.north - bounds[m, 1]) / elev.res) + 1))
            c0, r0 = max(0, min(c0, c1 - 3)), max(0, min(r0, r1 - 3))  # the viewshed wants 2 cells a side
            c1, r1 = min(z.shape[1], max(c1, c0 + 3)), min(z.shape[0], max(r1, r0 + 3))
            hidden_vp[m] = _hidden_cells(
                z[r0:r1, c0:c1],
                elev.west + c0 * elev.res,
                elev.north - r0 * elev.res,
                elev.res,
                elev.west + (col + 0.5) * elev.res,  # the centre of the cell holding the model
                elev.north - (row + 0.5) * elev.res,
                float(vh[m]),
            )
    if uncovered.any():
        bad = np.sort(rows[uncovered[vp_of]])
        names = [str(ids[i]) if ids is not None else str(i) for i in bad]
        more = f" and {len(names) - 20} more" if len(names) > 20 else ""
        raise GeoAnttError(
            f"{source.name}: the elevation model does not cover {len(names)} model(s) (no elevation where they "
            f"stand): {', '.join(names[:20])}{more}"
        )
    hidden = np.full(len(geoms), None, dtype=object)
    hidden[rows] = hidden_vp[vp_of]
    cut = np.flatnonzero(shapely.is_geometry(hidden))
    if cut.size:
        out[cut] = shapely.difference(geoms[cut], hidden[cut])
    return out
