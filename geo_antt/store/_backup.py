"""Backups of the store as one GeoPackage: layers ``units`` and ``models`` (EPSG:4326), and the
non-spatial tables ``audit_log`` and ``backup_meta``.

JSON-valued columns (``direction_deg``, ``data_sharing``, unit ``extra``, audit ``old``/``new``/
``detail``) are stored as JSON text and timestamps as ISO 8601 UTC text, so the file opens in QGIS
and restores exactly. The file is written to a temporary name in the same folder and moved into
place with :func:`os.replace`: a crash never leaves a half-written backup under the real name.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .. import __version__
from .._errors import GeoAnttError, Problem, ValidationError
from ..schema import MODEL_COLUMNS, UNIT_COLUMNS
from ..text import fold

__all__ = ["BACKUP_FORMAT", "Backup", "write_backup", "read_backup"]

BACKUP_FORMAT = "geo-antt-backup/1"
_MODEL_META = ("version", "created_at", "updated_at", "created_by", "updated_by")
_MODEL_JSON = ("direction_deg", "data_sharing")
_MODEL_FLOAT = ("fov_deg", "range_m", "radius_m", "height_m", "resolution_px")
_AUDIT_COLS = ("id", "at", "user_name", "action", "model_id", "unit_code", "old", "new", "detail")


@dataclass(frozen=True)
class Backup:
    """Rows read from a backup, ready to insert (``dict`` per row, table column names)."""

    units: list[dict[str, Any]]
    models: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    meta: dict[str, str]
    context: list[dict[str, Any]] = field(default_factory=list)  # roads and buildings (layer context_features)


def _iso(v: _dt.datetime | None) -> str | None:
    return None if v is None else v.astimezone(_dt.UTC).isoformat()


def _dumps(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False)


def _wkb_series(rows: Sequence[Any]) -> gpd.GeoSeries:
    arr = np.array([r.geom for r in rows], dtype=object) if rows else np.array([], dtype=object)
    return gpd.GeoSeries(shapely.from_wkb(arr), crs="EPSG:4326")


def _text_frame(
    records: list[dict[str, Any]], columns: Sequence[str], *, floats: Sequence[str] = (), ints: Sequence[str] = ()
) -> pd.DataFrame:
    df = pd.DataFrame(records, columns=list(columns))
    for c in columns:
        if c in floats:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        elif c in ints:
            df[c] = df[c].astype("int64")
        else:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
            if len(df) == 0:
                df[c] = df[c].astype(str)
    return df


def write_backup(
    path: Path,
    *,
    units: Sequence[Any],
    models: Sequence[Any],
    audit: Sequence[Any],
    revision: str | None,
    context: Sequence[Any] = (),
) -> Path:
    """Write the rows of the tables to the GeoPackage ``path`` (atomic); returns ``path``. The
    roads and buildings (``context``) go to the layer ``context_features`` when there are any.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise GeoAnttError(f"{path}: a backup is a GeoPackage; give a file name ending in .gpkg")
    unit_cols = [*UNIT_COLUMNS, "extra"]
    u = _text_frame(
        [
            {
                **{c: getattr(r, c) for c in UNIT_COLUMNS},
                "approximate": int(bool(r.approximate)),
                "extra": _dumps(r.extra),
            }
            for r in units
        ],
        unit_cols,
        ints=("approximate",),
    )
    m_cols = [*MODEL_COLUMNS, *_MODEL_META]
    m = _text_frame(
        [
            {
                **{c: getattr(r, c) for c in MODEL_COLUMNS},
                "direction_deg": _dumps(list(r.direction_deg or [])),
                "data_sharing": _dumps(r.data_sharing),
                "version": r.version,
                "created_at": _iso(r.created_at),
                "updated_at": _iso(r.updated_at),
                "created_by": r.created_by,
                "updated_by": r.updated_by,
            }
            for r in models
        ],
        m_cols,
        floats=_MODEL_FLOAT,
        ints=("version",),
    )
    a = _text_frame(
        [
            {
                "id": r.id,
                "at": _iso(r.at),
                "user_name": r.user_name,
                "action": r.action,
                "model_id": r.model_id,
                "unit_code": r.unit_code,
                "old": _dumps(r.old),
                "new": _dumps(r.new),
                "detail": _dumps(r.detail),
            }
            for r in audit
        ],
        _AUDIT_COLS,
        ints=("id",),
    )
    meta = pd.DataFrame(
        {
            "key": ["format", "geo_antt_version", "schema_revision", "created_at", "units", "models", "audit"],
            "value": [
                BACKUP_FORMAT,
                __version__,
                revision or "",
                _iso(_dt.datetime.now(_dt.UTC)),
                str(len(units)),
                str(len(models)),
                str(len(audit)),
            ],
        }
    )
    ug = gpd.GeoDataFrame(u, geometry=_wkb_series(units), crs="EPSG:4326")
    mg = gpd.GeoDataFrame(m, geometry=_wkb_series(models), crs="EPSG:4326")
    cg = gpd.GeoDataFrame(
        _text_frame(
            [{c: getattr(r, c) for c in _CONTEXT_COLS} for r in context], _CONTEXT_COLS, floats=("levels", "height_m")
        ),
        geometry=_wkb_series(context),
        crs="EPSG:4326",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".gpkg", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL creates the file itself
    try:
        pyogrio.write_dataframe(ug, tmp, layer="units", driver="GPKG", geometry_type="Unknown")
        pyogrio.write_dataframe(mg, tmp, layer="models", driver="GPKG", geometry_type="Unknown")
        pyogrio.write_dataframe(a, tmp, layer="audit_log", driver="GPKG")
        if len(cg):
            pyogrio.write_dataframe(cg, tmp, layer="context_features", driver="GPKG", geometry_type="Unknown")
        pyogrio.write_dataframe(meta, tmp, layer="backup_meta", driver="GPKG")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


_CONTEXT_COLS = ("layer", "unit_code", "feature_id", "name", "klass", "levels", "height_m")


def _none(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _loads(v: Any) -> Any:
    v = _none(v)
    return None if v is None else json.loads(v)


def _ts(v: Any) -> _dt.datetime | None:
    v = _none(v)
    return None if v is None else _dt.datetime.fromisoformat(v)


def _geom_cols(g: Any) -> dict[str, Any]:
    if g is None or g.is_empty:
        return {"geom": None, "minx": None, "miny": None, "maxx": None, "maxy": None}
    x0, y0, x1, y1 = g.bounds
    return {"geom": shapely.to_wkb(g), "minx": x0, "miny": y0, "maxx": x1, "maxy": y1}


def read_backup(path: Path) -> Backup:
    """Read a backup written by :func:`write_backup`.

    Raises
    ------
    ValidationError
        The file is not a geo-antt backup (missing layer or unknown format), naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    try:
        layers = {name for name, _ in pyogrio.list_layers(path)}
    except Exception as exc:  # GDAL raises DataSourceError and friends
        raise ValidationError([Problem(str(path), None, None, None, f"not a GeoPackage ({exc})")]) from None
    missing = {"units", "models", "audit_log", "backup_meta"} - layers
    if missing:
        raise ValidationError(
            [
                Problem(
                    str(path), None, None, None, f"not a geo-antt backup: layer(s) {', '.join(sorted(missing))} missing"
                )
            ]
        )
    meta_df = pyogrio.read_dataframe(path, layer="backup_meta", read_geometry=False)
    meta = dict(zip(meta_df["key"], meta_df["value"]))
    if meta.get("format") != BACKUP_FORMAT:
        raise ValidationError(
            [
                Problem(
                    str(path), None, "format", meta.get("format"), f"unknown backup format (expected {BACKUP_FORMAT})"
                )
            ]
        )
    ug = pyogrio.read_dataframe(path, layer="units")
    mg = pyogrio.read_dataframe(path, layer="models")
    ad = pyogrio.read_dataframe(path, layer="audit_log", read_geometry=False)
    units = []
    ugeom = ug.geometry.values if len(ug) else []
    for i, r in enumerate(ug.drop(columns="geometry").to_dict("records")):
        units.append(
            {
                "code": r["code"],
                "name": r["name"],
                "level": r["level"],
                "parent_code": _none(r["parent_code"]),
                "approximate": bool(r["approximate"]),
                "valid_from": _none(r["valid_from"]),
                "valid_to": _none(r["valid_to"]),
                "extra": _loads(r["extra"]),
                **_geom_cols(ugeom[i]),
            }
        )
    models = []
    mgeom = mg.geometry.values if len(mg) else []
    for i, r in enumerate(mg.drop(columns="geometry").to_dict("records")):
        rec = {c: _none(r.get(c)) for c in MODEL_COLUMNS}  # a backup made before 0008 has no resolution_px, lens
        rec["direction_deg"] = _loads(r["direction_deg"]) or []
        rec["data_sharing"] = _loads(r["data_sharing"])
        for c in _MODEL_FLOAT:
            rec[c] = None if rec[c] is None else float(rec[c])
        rec.update(
            version=int(r["version"]),
            created_at=_ts(r["created_at"]),
            updated_at=_ts(r["updated_at"]),
            created_by=_none(r["created_by"]),
            updated_by=_none(r["updated_by"]),
            search_name=fold(rec["name"]) or None,
            **_geom_cols(mgeom[i]),
        )
        models.append(rec)
    audit = [
        {
            "id": int(r["id"]),
            "at": _ts(r["at"]),
            "user_name": r["user_name"],
            "action": r["action"],
            "model_id": _none(r["model_id"]),
            "unit_code": _none(r["unit_code"]),
            "old": _loads(r["old"]),
            "new": _loads(r["new"]),
            "detail": _loads(r["detail"]),
        }
        for r in ad.to_dict("records")
    ]
    context = []
    if "context_features" in layers:  # backups before migration 0007 have none
        cgdf = pyogrio.read_dataframe(path, layer="context_features")
        cgeom = cgdf.geometry.values if len(cgdf) else []
        for i, r in enumerate(cgdf.drop(columns="geometry").to_dict("records")):
            rec = {c: _none(r.get(c)) for c in _CONTEXT_COLS}
            for c in ("levels", "height_m"):
                rec[c] = None if rec[c] is None else float(rec[c])
            context.append({**rec, **_geom_cols(cgeom[i])})
    return Backup(units=units, models=models, audit=audit, meta=meta, context=context)
