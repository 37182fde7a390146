"""Digital elevation models: a GeoTIFF (or any single-band raster GDAL reads) in any CRS, read
with rasterio, as the :class:`geo_antt.terrain.ElevationSource` of the terrain occlusion.

Windows are resampled (bilinear, GDAL's warper through :func:`rasterio.warp.reproject`) to a
grid of square cells in the metric CRS of the analysis, aligned on the CRS's origin, with about
the source's cell size; the warper reads only the source blocks a window needs. Elevations are
metres (band 1); the file's nodata value and cells outside the file are NaN.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from pyproj import CRS

from .._errors import CRSError, GeoAnttError
from ..terrain import Elevation
from ._readers import _NATIONAL_BOX

__all__ = ["DemFile", "open_dem"]

# most cells one window may hold (about 200 MB of float64): a finer model is an error, not a swap storm
_MAX_WINDOW_CELLS = 25_000_000


class DemFile:
    """An elevation model file (see :func:`open_dem`).

    Attributes
    ----------
    name
        The file's path (for messages).
    crs
        The file's CRS.
    bounds
        ``(west, south, east, north)`` in the file's CRS.
    """

    def __init__(self, path: Path, crs: CRS, bounds: tuple[float, float, float, float], shape: tuple[int, int]):
        self.path = path
        self.name = str(path)
        self.crs = crs
        self.bounds = bounds
        self._shape = shape
        self._res: dict[str, float] = {}

    def __repr__(self) -> str:
        """``DemFile('path', crs='EPSG:...')``."""
        return f"DemFile({self.name!r}, crs={self.crs.to_string()!r})"

    def resolution(self, crs: CRS) -> float:
        """Side of the cells of :meth:`read` in ``crs``: the source's cell size there (metres)."""
        key = crs.to_wkt()
        if key not in self._res:
            from rasterio.crs import CRS as RioCRS
            from rasterio.warp import calculate_default_transform

            rows, cols = self._shape
            transform, _, _ = calculate_default_transform(
                RioCRS.from_wkt(self.crs.to_wkt()), RioCRS.from_wkt(key), cols, rows, *self.bounds
            )
            self._res[key] = float(math.sqrt(abs(transform.a * transform.e)))
        return self._res[key]

    def read(self, bounds: tuple[float, float, float, float], crs: CRS) -> Elevation:
        """Elevations covering ``bounds`` (``minx, miny, maxx, maxy``, metres in ``crs``).

        Raises
        ------
        GeoAnttError
            The window would be too large (the model's cells are too fine for the area), or the
            file cannot be read any more.
        """
        import rasterio
        from rasterio.crs import CRS as RioCRS
        from rasterio.transform import Affine
        from rasterio.warp import Resampling, reproject

        res = self.resolution(crs)
        west = math.floor(bounds[0] / res) * res
        north = math.ceil(bounds[3] / res) * res
        cols = max(1, math.ceil((bounds[2] - west) / res))
        rows = max(1, math.ceil((north - bounds[1]) / res))
        if rows * cols > _MAX_WINDOW_CELLS:
            raise GeoAnttError(
                f"{self.name}: a window of {rows} x {cols} cells of {res:g} m is too large; use an elevation "
                f"model with coarser cells"
            )
        out = np.full((rows, cols), np.nan, dtype=np.float64)
        try:
            with rasterio.open(self.path) as src:
                reproject(
                    source=rasterio.band(src, 1),
                    destination=out,
                    src_nodata=src.nodata,
                    dst_transform=Affine(res, 0.0, west, 0.0, -res, north),
                    dst_crs=RioCRS.from_wkt(crs.to_wkt()),
                    dst_nodata=np.nan,
                    resampling=Resampling.bilinear,
                )
        except rasterio.errors.RasterioError as exc:
            raise GeoAnttError(f"{self.name}: cannot read the elevation model: {exc}") from None
        return Elevation(out, float(west), float(north), float(res))


def open_dem(path: str | os.PathLike[str]) -> DemFile:
    """Open an elevation model file and check it.

    Parameters
    ----------
    path
        A GeoTIFF (or any raster GDAL reads) of ground elevations in metres (band 1), in any CRS
        the file names (UTM, VN-2000, EPSG:4326 ...).

    Returns
    -------
    DemFile

    Raises
    ------
    GeoAnttError
        The file is missing or not a raster GDAL reads, or has no band.
    CRSError
        The file names no CRS, or its extent is not in Vietnam in that CRS (a wrong CRS).
    """
    import rasterio
    import rasterio.errors
    from rasterio.warp import transform_bounds

    p = Path(path)
    if not p.is_file():
        raise GeoAnttError(f"{p}: no such elevation model file")
    try:
        with rasterio.open(p) as src:
            if src.count < 1:
                raise GeoAnttError(f"{p}: the elevation model has no band")
            if src.crs is None:
                raise CRSError(
                    f"{p}: the elevation model names no CRS (write one into the GeoTIFF, e.g. gdal_edit.py -a_srs EPSG:32648)"
                )
            crs = CRS.from_wkt(src.crs.to_wkt())
            bounds = (float(src.bounds.left), float(src.bounds.bottom), float(src.bounds.right), float(src.bounds.top))
            shape = (int(src.height), int(src.width))
            try:
                lon0, lat0, lon1, lat1 = transform_bounds(src.crs, "EPSG:4326", *bounds)
            except (rasterio.errors.RasterioError, ValueError) as exc:
                raise CRSError(
                    f"{p}: the elevation model's extent cannot be placed on the earth in its CRS ({exc})"
                ) from None
    except rasterio.errors.RasterioIOError as exc:
        raise GeoAnttError(f"{p}: cannot read the elevation model (not a raster GDAL reads?): {exc}") from None
    box = _NATIONAL_BOX
    finite = all(math.isfinite(v) for v in (lon0, lat0, lon1, lat1))
    if not finite or lon1 < box[0] or lon0 > box[2] or lat1 < box[1] or lat0 > box[3]:
        raise CRSError(
            f"{p}: the elevation model's extent {bounds} in {crs.to_string()} lies outside Vietnam "
            f"(lon {lon0:.4f}..{lon1:.4f}, lat {lat0:.4f}..{lat1:.4f}): is its CRS wrong?"
        )
    return DemFile(p, crs, bounds, shape)
