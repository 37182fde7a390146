"""The in-memory catalog the web service reads (:mod:`geo_antt.catalog._catalog`), its live
updates after a change of the store (:mod:`geo_antt.catalog.live`) and what an items query asks
beyond Part 1 of OGC API - Features (:mod:`geo_antt.catalog.query`: output CRS, CQL2 filters, queryables).
"""

from __future__ import annotations

from ._catalog import (
    UNIT_COLLECTIONS,
    Catalog,
    Collection,
    ItemsPage,
    feature_collection_text,
    parse_bbox,
)
from ._context import CONTEXT_COLLECTIONS, context_layers
from .query import (
    CRS84,
    FILTER_LANGS,
    OutputCrs,
    bbox_region,
    parse_crs_uri,
    parse_filter,
    queryables,
    supported_crs_uris,
)

__all__ = [
    "Catalog",
    "Collection",
    "ItemsPage",
    "UNIT_COLLECTIONS",
    "feature_collection_text",
    "parse_bbox",
    "CONTEXT_COLLECTIONS",
    "context_layers",
    "CRS84",
    "FILTER_LANGS",
    "OutputCrs",
    "bbox_region",
    "parse_crs_uri",
    "parse_filter",
    "queryables",
    "supported_crs_uris",
]
