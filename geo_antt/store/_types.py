"""Column types shared by the schema and the migrations.

``Geometry`` is a plain WKB blob on SQLite and ``geometry(Geometry,4326)`` on PostgreSQL +
PostGIS; on both backends the application binds and receives WKB bytes (EPSG:4326 lon/lat), so
the rest of the store never branches on the backend for geometry I/O. ``UTCDateTime`` stores
naive UTC and always returns timezone-aware UTC datetimes (SQLite keeps no time zone).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator, UserDefinedType

__all__ = ["Geometry", "UTCDateTime", "SRID", "utcnow"]

SRID = 4326


def utcnow() -> _dt.datetime:
    """The current time, timezone-aware UTC, to the microsecond."""
    return _dt.datetime.now(_dt.UTC)


class _GeomFromWKB(FunctionElement):
    """Bind-side wrapper: ``ST_GeomFromWKB(x, 4326)`` on PostGIS, ``x`` elsewhere."""

    inherit_cache = True
    name = "geom_from_wkb"

    def __init__(self, arg: Any, *, type_: Any) -> None:
        super().__init__(arg)
        self.type = type_


class _AsWKB(FunctionElement):
    """Result-side wrapper: ``ST_AsBinary(x)`` on PostGIS, ``x`` elsewhere."""

    inherit_cache = True
    name = "as_wkb"

    def __init__(self, arg: Any, *, type_: Any) -> None:
        super().__init__(arg)
        self.type = type_


@compiles(_GeomFromWKB)
def _geom_from_wkb_default(element: Any, compiler: Any, **kw: Any) -> str:
    return compiler.process(list(element.clauses)[0], **kw)


@compiles(_GeomFromWKB, "postgresql")
def _geom_from_wkb_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"ST_GeomFromWKB({compiler.process(list(element.clauses)[0], **kw)}, {SRID})"


@compiles(_AsWKB)
def _as_wkb_default(element: Any, compiler: Any, **kw: Any) -> str:
    return compiler.process(list(element.clauses)[0], **kw)


@compiles(_AsWKB, "postgresql")
def _as_wkb_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"ST_AsBinary({compiler.process(list(element.clauses)[0], **kw)})"


class Geometry(UserDefinedType):
    """A lon/lat (EPSG:4326) geometry exchanged as WKB bytes (``None`` = no geometry)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:  # pragma: no cover - replaced by @compiles
        return "BLOB"

    def bind_expression(self, bindvalue: Any) -> Any:
        return _GeomFromWKB(bindvalue, type_=self)

    def column_expression(self, col: Any) -> Any:
        return _AsWKB(col, type_=self)

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> Any:
            if value is None:
                return None
            return bytes(value)

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            if value is None:
                return None
            return bytes(value)

        return process


@compiles(Geometry)
def _geometry_default(type_: Any, compiler: Any, **kw: Any) -> str:
    return "BLOB"


@compiles(Geometry, "postgresql")
def _geometry_pg(type_: Any, compiler: Any, **kw: Any) -> str:
    return f"geometry(Geometry,{SRID})"


class UTCDateTime(TypeDecorator):
    """A UTC timestamp: stored naive (UTC), returned timezone-aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive, SQLite returns datetimes
            value = _dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=_dt.UTC)
        return value.astimezone(_dt.UTC)
