"""geo-antt: coverage and gap analysis for Vietnam's community security models."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:  # one version source: pyproject.toml, through the installed distribution's metadata
    __version__ = version("geo-antt")
except PackageNotFoundError:  # pragma: no cover - run from a checkout that was never installed
    __version__ = "0+unknown"

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
