"""Readers and writers: vector files and GeoJSON text (:mod:`.vector`, :mod:`.geojson`), model
sheets (:mod:`.models`: CSV, XLSX, GeoJSON, GeoPackage, GeoParquet) and their cell parsers (:mod:`.cells`),
hamlet tables (:mod:`.hamlets`), dataset folders (:mod:`.dataset`), the demo generator
(:mod:`.demo`) and XLSX cells (:mod:`.xlsx`).

The names below are the package's public interface (``from geo_antt import io; io.write_layer``).
"""

from __future__ import annotations

from .models import load_models, read_models
from .vector import (
    GEOJSON_DECIMALS,
    REFORM_DATE,
    json_value,
    read_layer,
    read_units,
    to_geojson_dict,
    to_geojson_text,
    write_atomic,
    write_layer,
    write_partitioned,
)

__all__ = [
    "GEOJSON_DECIMALS",
    "REFORM_DATE",
    "json_value",
    "load_models",
    "read_layer",
    "read_models",
    "read_units",
    "to_geojson_dict",
    "to_geojson_text",
    "write_atomic",
    "write_layer",
    "write_partitioned",
]
