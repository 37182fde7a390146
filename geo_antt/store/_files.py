"""Reading import files for the store: models and units, through :mod:`geo_antt.io` when present.

Without ``geo_antt.io`` only vector files already in the canonical columns are read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd

from .._errors import GeoAnttError, Problem, ValidationError

__all__ = ["read_models_file", "read_models_upload", "read_units_file", "readers_ready"]


def read_models_file(path: str | Path, *, crs: object = None) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Read a models file into a canonical models frame and the problems of rejected rows.

    Uses :func:`geo_antt.io.load_models` (CSV, XLSX, GeoJSON, GeoPackage with header matching
    and validation), keeping each row's place in the file in a ``source_row`` column (spreadsheet
    row, header = 1; feature number of a vector file) so that :meth:`Store.preview_import` names
    rejected rows as the user sees them, and leaving out the model columns the file does not
    have (an import then updates only the fields the file gives). Without it only vector files
    already in the canonical columns are read.
    """
    try:
        from ..io import load_models
    except ImportError:
        load_models = None  # type: ignore[assignment]  # mypy's optional-import idiom
    if load_models is not None:
        gdf, problems = load_models(path, crs=crs, source_rows=True, fill_absent=False)
        return gdf, list(problems)
    p = Path(path)
    if p.suffix.lower() not in (".geojson", ".json", ".gpkg"):
        raise GeoAnttError(
            f"{p}: reading {p.suffix} files needs geo_antt.io.load_models (not in this build); use GeoJSON or GeoPackage"
        )
    if not p.is_file():
        raise FileNotFoundError(2, "No such file", str(p))
    gdf = gpd.read_file(p)
    if "id" not in gdf.columns:
        raise ValidationError([Problem(str(p), None, "id", None, "missing column")])
    return gdf, []


def read_models_upload(path: str | Path, filename: str) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """:func:`read_models_file` of an uploaded file saved at ``path``, its problems naming the
    file as the user called it (``filename``). A plain function of picklable values: the web
    app runs it in its parse process (``geo_antt.app.jobs.parse_pool``).
    """
    gdf, problems = read_models_file(path)
    return gdf, [dataclasses.replace(p, file=filename) for p in problems]


def readers_ready() -> bool:
    """Import the file readers (pandas, openpyxl, pyogrio); True. A parse process runs it when it
    starts, so that the first upload does not wait for these imports.
    """
    try:
        from .. import io  # noqa: F401
    except ImportError:
        pass
    return True


def read_units_file(path: str | Path) -> gpd.GeoDataFrame:
    """Read a boundaries file into a units frame (``geo_antt.io.read_units`` when present)."""
    try:
        from ..io import read_units
    except ImportError:
        read_units = None  # type: ignore[assignment]  # mypy's optional-import idiom
    if read_units is not None:
        return read_units(path)
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "No such file", str(p))
    gdf = gpd.read_file(p)
    missing = [c for c in ("code", "name", "level") if c not in gdf.columns]
    if missing:
        raise ValidationError([Problem(str(p), None, c, None, "missing column") for c in missing])
    return gdf
