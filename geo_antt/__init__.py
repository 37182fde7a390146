"""geo-antt: coverage and gap analysis for Vietnam's community security models."""

from __future__ import annotations

__version__ = "0.1.0"

from . import config as config
from . import crs as crs
from . import layers as layers
from . import schema as schema
from . import text as text
from ._errors import (
    BusyError,
    ConflictError,
    CRSError,
    GeoAnttError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    ValidationError,
)

__all__ = [
    "__version__",
    "config",
    "crs",
    "layers",
    "schema",
    "text",
    "GeoAnttError",
    "ValidationError",
    "Problem",
    "CRSError",
    "NotFoundError",
    "ConflictError",
    "PermissionDeniedError",
    "BusyError",
]
