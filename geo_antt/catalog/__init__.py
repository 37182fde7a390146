"""The in-memory catalog the web service reads (:mod:`geo_antt.catalog._catalog`) and its live
updates after a change of the store (:mod:`geo_antt.catalog.live`)."""

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

__all__ = ["CONTEXT_COLLECTIONS", "context_layers", "Catalog", "Collection", "ItemsPage", "UNIT_COLLECTIONS", "feature_collection_text", "parse_bbox"]
