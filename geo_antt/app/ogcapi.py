"""OGC API - Features endpoints, exports and the small JSON API of the map page.

OGC API - Features Part 1 (core, GeoJSON, OpenAPI 3.0): ``/`` landing page (JSON for API
clients such as GDAL's OAPIF driver and QGIS; the map page for a browser), ``/conformance``,
``/collections``, ``/collections/{id}``, ``/collections/{id}/items`` (``bbox``, ``limit``,
``offset``, and ``unit`` = a unit code: that unit and its descendants) and
``/collections/{id}/items/{fid}``; ``/openapi`` describes them. Part 2 (CRS by reference):
``crs`` and ``bbox-crs`` (CRS84, EPSG:4326, UTM 48N/49N, the VN-2000 zones), ``Content-Crs``,
``storageCrs``/``crs`` per collection. Part 3: ``filter``/``filter-lang``/``filter-crs`` (CQL2
text and JSON) and ``/collections/{id}/queryables`` (:mod:`geo_antt.catalog.query` does the
work). Non-spatial model kinds are not Features API collections (:func:`is_feature_collection`). ``/export/{id}.geojson|.gpkg``
downloads a collection (or the part under ``unit``). ``/api/search``, ``/api/units``,
``/api/stats`` feed the side panel.

Every read is limited to the current account's units (:func:`geo_antt.app.scope_codes`, applied
inside the :class:`~geo_antt.catalog.Catalog`): lists and exports keep only in-scope features,
a ``unit`` outside the scope is a 403, one feature outside it a 404 exactly as an unknown id.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import Unauthorized

from .._errors import GeoAnttError, NotFoundError
from ..catalog import (
    CRS84,
    FILTER_LANGS,
    bbox_region,
    feature_collection_text,
    parse_bbox,
    parse_crs_uri,
    parse_filter,
    supported_crs_uris,
)
from ..catalog import (
    queryables as _queryables,
)
from ..layers import BOUNDED_FIELDS, MAX_DIRECTIONS, TEXT_MAX_LENGTH
from ..schema import STATUSES
from .auth import current_user
from .context import (
    PUBLIC_COLLECTIONS,
    get_catalog,
    get_meta,
    get_tier_catalog,
    prefers_json,
    scope_codes,
    tier_arg,
)
from .context import request_lang as _lang

__all__ = ["bp", "DEFAULT_LIMIT", "MAX_LIMIT", "CONFORMANCE", "is_feature_collection", "openapi_document"]

bp = Blueprint("api", __name__)

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
MAX_QUERY_CHARS = 200  # a search text (unit names are far shorter)
GEOJSON = "application/geo+json"
# Collection groups whose features change with the cameras' tier (``?tier=``).
TIER_GROUPS = frozenset({"footprints", "coverage", "gaps"})
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]
_QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
_QUERYABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # collection -> {name: schema}
_CRS84 = CRS84
_SAFE_NAME = re.compile(r"[^0-9A-Za-z_.-]+")


def _int_arg(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise GeoAnttError(f"{name} must be an integer, got {raw!r}") from None
    if v < minimum:
        raise GeoAnttError(f"{name} must be at least {minimum}, got {v}")
    return min(v, maximum) if maximum is not None else v


def _unit_arg() -> str | None:
    code = request.args.get("unit") or None
    if code is not None:
        get_catalog().unit(code)  # 404 for an unknown unit
    return code


# -- OGC API - Features ---------------------------------------------------------------------


def is_feature_collection(col) -> bool:
    """Whether the Features API serves ``col``: every collection but the non-spatial model kinds.

    OGC API - Features 1.0.1 (OGC 17-069r4) requires a GeoJSON feature's ``geometry`` to be one
    of the seven geometry objects (``featureGeoJSON.yaml``: ``geometry: $ref:
    geometryGeoJSON.yaml``, a ``oneOf`` of Point ... GeometryCollection, not nullable; ``null``
    was allowed only in the 2023 draft that followed), so models without a location (self-management
    groups, "other" models) are served by the registry API (``/api/registry/models``) and the
    exports, not here.
    """
    return not (col.group == "models" and (col.spec is None or not col.spec.spatial))


def _feature_collection(cid: str):
    """Collection ``cid`` of the Features API (404 for an unknown or non-spatial one)."""
    cat = get_catalog()
    col = cat.get(cid)
    if not is_feature_collection(col):
        raise NotFoundError(
            f"collection {cid!r} has no locations: its models are served by /api/registry/models "
            f"and /export/{cid}.geojson, not by the Features API"
        )
    return col


def _feature_collections() -> list:
    return [c for c in get_catalog().collections.values() if is_feature_collection(c)]


@bp.get("/")
def landing():
    """Landing page: JSON for API clients (Accept JSON or ``?f=json``), the map for browsers."""
    if request.args.get("f") not in (None, "json", "html"):
        raise GeoAnttError(f"f={request.args.get('f', '')[:40]!r}: use f=json or f=html")
    if not prefers_json():
        from .maps import render_map

        return render_map()
    meta = get_meta()
    lang = _lang()
    title = (meta.get("title") or {}).get(lang) or "geo-antt"
    return jsonify(
        {
            "title": title,
            "description": (meta.get("note") or {}).get(lang)
            or "geo-antt: security models, coverage and gaps (OGC API - Features)",
            "links": [
                {
                    "href": url_for("api.landing", f="json", _external=True),
                    "rel": "self",
                    "type": "application/json",
                    "title": "this document",
                },
                {
                    "href": url_for("views.map_page", _external=True),
                    "rel": "alternate",
                    "type": "text/html",
                    "title": "map",
                },
                {
                    "href": url_for("api.openapi", _external=True),
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "title": "OpenAPI definition",
                },
                {
                    "href": url_for("api.conformance", _external=True),
                    "rel": "conformance",
                    "type": "application/json",
                    "title": "conformance classes",
                },
                {
                    "href": url_for("api.collections", _external=True),
                    "rel": "data",
                    "type": "application/json",
                    "title": "collections",
                },
            ],
        }
    )


@bp.get("/conformance")
def conformance():
    return jsonify({"conformsTo": CONFORMANCE})


def _collection_doc(col, lang: str, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": col.id,
        "title": col.title(lang),
        "itemType": "feature",
        "crs": supported_crs_uris(),
        "storageCrs": _CRS84,
        "links": [
            {"href": url_for("api.collection", cid=col.id, _external=True), "rel": "self", "type": "application/json"},
            {
                "href": url_for("api.items", cid=col.id, _external=True),
                "rel": "items",
                "type": GEOJSON,
                "title": col.title(lang),
            },
            {
                "href": url_for("api.queryables", cid=col.id, _external=True),
                "rel": _QUERYABLES_REL,
                "type": "application/schema+json",
                "title": "queryables (the properties a filter may name)",
            },
            {
                "href": url_for("api.export", name=f"{col.id}.geojson", _external=True),
                "rel": "enclosure",
                "type": GEOJSON,
            },
            {
                "href": url_for("api.export", name=f"{col.id}.gpkg", _external=True),
                "rel": "enclosure",
                "type": "application/geopackage+sqlite3",
            },
        ],
    }
    ext = col.bounds(allowed=allowed)
    if ext is not None:
        doc["extent"] = {"spatial": {"bbox": [[round(v, 7) for v in ext]], "crs": _CRS84}}
    return doc


@bp.get("/collections")
def collections():
    lang = _lang()
    allowed = scope_codes()
    return jsonify(
        {
            "links": [{"href": url_for("api.collections", _external=True), "rel": "self", "type": "application/json"}],
            "collections": [_collection_doc(c, lang, allowed) for c in _feature_collections()],
        }
    )


@bp.get("/collections/<cid>")
def collection(cid: str):
    return jsonify(_collection_doc(_feature_collection(cid), _lang(), scope_codes()))


@bp.get("/collections/<cid>/items")
def items(cid: str):
    cat = get_catalog()
    _feature_collection(cid)
    if current_user() is None and cid not in PUBLIC_COLLECTIONS:
        # the public aggregate mode: figures and boundaries, never models, footprints or gaps
        raise Unauthorized("log in to see this collection")
    allowed = scope_codes()
    crs = parse_crs_uri(request.args.get("crs"), what="crs")
    bbox, region = _bbox_args()
    limit = _int_arg("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = _int_arg("offset", 0, minimum=0)
    unit = _unit_arg()
    text = request.args.get("filter")
    where = parse_filter(
        text,
        lang=request.args.get("filter-lang"),
        crs=parse_crs_uri(request.args.get("filter-crs"), what="filter-crs"),
        # the queryables scan the collection's values once per collection object (each edit
        # makes a new one): only for a request that filters
        names=frozenset(_collection_queryables(cat.get(cid))) if text is not None else frozenset(),
    )
    tier = tier_arg()
    if tier is not None and cat.get(cid).group in TIER_GROUPS:  # the models themselves keep their ranges
        cat = get_tier_catalog(tier)
    page = cat.items(
        cid, bbox=bbox, region=region, unit=unit, limit=limit, offset=offset, allowed=allowed, crs=crs, where=where
    )

    base = {k: v for k, v in request.args.items() if k not in ("offset", "limit")}

    def link(rel: str, off: int) -> dict[str, Any]:
        return {
            "href": url_for("api.items", cid=cid, _external=True, **base, limit=limit, offset=off),
            "rel": rel,
            "type": GEOJSON,
        }

    links = [link("self", offset)]
    if offset + page.number_returned < page.number_matched:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    links.append(
        {"href": url_for("api.collection", cid=cid, _external=True), "rel": "collection", "type": "application/json"}
    )
    extra = {
        "numberMatched": page.number_matched,
        "numberReturned": page.number_returned,
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
    resp = Response(feature_collection_text(page.features, extra=extra), mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{crs.uri}>"
    return resp


def _collection_queryables(col) -> dict[str, Any]:
    """The queryables of a collection (computed once per collection object: they never change)."""
    q = _QUERYABLES.get(col)
    if q is None:
        q = _QUERYABLES[col] = _queryables(col.frame)
    return q


@bp.get("/collections/<cid>/queryables")
def queryables(cid: str):
    """The properties a ``filter`` may name, as a JSON Schema (OGC API - Features Part 3)."""
    col = _feature_collection(cid)
    if current_user() is None and cid not in PUBLIC_COLLECTIONS:
        raise Unauthorized("log in to see this collection")
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url_for("api.queryables", cid=cid, _external=True),
        "type": "object",
        "title": col.title(_lang()),
        "properties": _collection_queryables(col),
        "additionalProperties": False,
    }
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/schema+json")


def _bbox_args():
    """``(bbox, region)`` of the ``bbox`` and ``bbox-crs`` parameters: a CRS84 bbox as such, one
    in another CRS as the lon/lat polygon it covers (Part 2 ``/req/crs/fc-bbox-crs-action``).
    """
    bbox_crs = parse_crs_uri(request.args.get("bbox-crs"), what="bbox-crs")
    text = request.args.get("bbox")
    if text is not None and not text.strip():
        raise GeoAnttError("bbox is empty: give 4 numbers (or leave the parameter out)")
    if bbox_crs.is_crs84:
        return parse_bbox(text), None
    if text is None or not text.strip():
        return None, None
    parts = text.split(",")
    if len(parts) != 4:
        raise GeoAnttError(f"bbox must be 4 numbers in the axis order of bbox-crs {bbox_crs.uri}, got {text[:80]!r}")
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise GeoAnttError(f"bbox must be 4 numbers, got {text[:80]!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise GeoAnttError(f"bbox values must be finite numbers, got {text[:80]!r}")
    return None, bbox_region(vals, bbox_crs)  # type: ignore[arg-type]


@bp.get("/collections/<cid>/items/<fid>")
def item(cid: str, fid: str):
    _feature_collection(cid)
    crs = parse_crs_uri(request.args.get("crs"), what="crs")
    text = get_catalog().item(cid, fid, allowed=scope_codes(), crs=crs)
    links = [
        {"href": url_for("api.item", cid=cid, fid=fid, _external=True), "rel": "self", "type": GEOJSON},
        {"href": url_for("api.collection", cid=cid, _external=True), "rel": "collection", "type": "application/json"},
    ]
    resp = Response(text[:-1] + ',"links":' + json.dumps(links) + "}", mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{crs.uri}>"
    return resp


@bp.get("/openapi")
def openapi():
    return Response(
        json.dumps(openapi_document(), ensure_ascii=False), mimetype="application/vnd.oai.openapi+json;version=3.0"
    )


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of this service (paths of the current app's collections)."""
    cat = get_catalog()
    ids = [c.id for c in _feature_collections()]
    p_cid = {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string", "enum": ids}}
    # the exports also hold the models without a location (geometry null, as RFC 7946 allows)
    p_export = {**p_cid, "schema": {"type": "string", "enum": list(cat.collections)}}
    p_fid = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
    p_bbox = {
        "name": "bbox",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "minLon,minLat,maxLon,maxLat in degrees (WGS84), or in bbox-crs",
        "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
    }
    p_limit = {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"features per page; a larger value is served as {MAX_LIMIT} (the server's maximum)",
        "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
    }
    p_offset = {
        "name": "offset",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    }
    p_unit = {
        "name": "unit",
        "in": "query",
        "required": False,
        "description": "administrative unit code: that unit and all units below it",
        "schema": {"type": "string"},
    }
    specs = current_app.extensions["geo_antt"].specs
    p_tier = {
        "name": "tier",
        "in": "query",
        "required": False,
        "description": "what the cameras are good for (IEC 62676-4): footprints, coverage and gaps with each "
        "camera's range for that purpose, from its resolution_px and fov_deg (a camera without a resolution "
        "keeps its range_m); other collections ignore it",
        "schema": {"type": "string", "enum": list(dict.fromkeys(t.code for s in specs.values() for t in s.tiers))},
    }
    uris = supported_crs_uris()
    p_crs = {
        "name": "crs",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "CRS of the geometries returned (OGC API - Features Part 2): CRS84 lon/lat (the default), "
        "EPSG:4326 lat/lon, WGS 84 / UTM 48N-49N or VN-2000 (metres, easting/northing, 3 decimals)",
        "schema": {"type": "string", "format": "uri", "enum": uris, "default": _CRS84},
    }
    p_bbox_crs = {
        "name": "bbox-crs",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "CRS of bbox, in its axis order (EPSG:4326: minLat,minLon,maxLat,maxLon)",
        "schema": {"type": "string", "format": "uri", "enum": uris, "default": _CRS84},
    }
    crs_header = {"Content-Crs": {"description": "the CRS of the geometries, <URI>", "schema": {"type": "string"}}}
    p_filter = {
        "name": "filter",
        "in": "query",
        "required": False,
        "description": "a CQL2 filter on the collection's queryables (/collections/{collectionId}/queryables), "
        "e.g. status = 'active' AND kind = 'camera', covered_pct < 5, "
        "S_INTERSECTS(geometry, POLYGON((...))); it only narrows what the account may see",
        "schema": {"type": "string"},
    }
    p_filter_lang = {
        "name": "filter-lang",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(FILTER_LANGS), "default": "cql2-text"},
    }
    p_filter_crs = {
        "name": "filter-crs",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "CRS of the filter's geometry literals, in its axis order",
        "schema": {"type": "string", "format": "uri", "enum": uris, "default": _CRS84},
    }
    err = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    js = {"application/json": {"schema": {"type": "object"}}}
    gj = {GEOJSON: {"schema": {"type": "object"}}}
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "geo-antt",
            "version": current_app.config.get("API_VERSION", "1.0"),
            "description": "Security models, coverage and gaps per hamlet (OGC API - Features)",
        },
        "servers": [{"url": request.url_root.rstrip("/")}],
        "paths": {
            "/": {
                "get": {
                    "summary": "Landing page: JSON links for API clients, the map for browsers (Accept: text/html "
                    "or ?f=html)",
                    "operationId": "getLandingPage",
                    "parameters": [
                        {
                            "name": "f",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["json", "html"]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "links, or the map page",
                            "content": {**js, "text/html": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi": {
                "get": {
                    "summary": "This document",
                    "operationId": "getOpenAPI",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.0",
                            "content": {"application/vnd.oai.openapi+json;version=3.0": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/api/me": {
                "get": {
                    "summary": "The account making the request (name, role, units)",
                    "operationId": "whoAmI",
                    "responses": {"200": {"description": "account", "content": js}},
                }
            },
            "/conformance": {
                "get": {
                    "summary": "Conformance classes",
                    "operationId": "getConformance",
                    "responses": {"200": {"description": "conformsTo", "content": js}},
                }
            },
            "/collections": {
                "get": {
                    "summary": "Collections",
                    "operationId": "getCollections",
                    "responses": {"200": {"description": "collections", "content": js}},
                }
            },
            "/collections/{collectionId}": {
                "get": {
                    "summary": "One collection",
                    "operationId": "describeCollection",
                    "parameters": [p_cid],
                    "responses": {"200": {"description": "collection", "content": js}, "404": err},
                }
            },
            "/collections/{collectionId}/items": {
                "get": {
                    "summary": "Features of a collection",
                    "operationId": "getFeatures",
                    "parameters": [
                        p_cid,
                        p_bbox,
                        p_bbox_crs,
                        p_limit,
                        p_offset,
                        p_unit,
                        p_crs,
                        p_filter,
                        p_filter_lang,
                        p_filter_crs,
                        p_tier,
                    ],
                    "responses": {
                        "200": {"description": "GeoJSON FeatureCollection", "content": gj, "headers": crs_header},
                        "400": err,
                        "404": err,
                    },
                }
            },
            "/collections/{collectionId}/queryables": {
                "get": {
                    "summary": "The properties a filter may name (JSON Schema)",
                    "operationId": "getQueryables",
                    "parameters": [p_cid],
                    "responses": {
                        "200": {
                            "description": "queryables",
                            "content": {"application/schema+json": {"schema": {"type": "object"}}},
                        },
                        "404": err,
                    },
                }
            },
            "/collections/{collectionId}/items/{featureId}": {
                "get": {
                    "summary": "One feature",
                    "operationId": "getFeature",
                    "parameters": [p_cid, p_fid, p_crs],
                    "responses": {
                        "200": {"description": "GeoJSON Feature", "content": gj, "headers": crs_header},
                        "404": err,
                    },
                }
            },
            "/export/{collectionId}.geojson": {
                "get": {
                    "summary": "Download a collection as GeoJSON (RFC 7946)",
                    "operationId": "exportGeoJSON",
                    "parameters": [p_export, p_unit],
                    "responses": {"200": {"description": "file", "content": gj}, "404": err},
                }
            },
            "/export/{collectionId}.gpkg": {
                "get": {
                    "summary": "Download a collection as GeoPackage",
                    "operationId": "exportGeoPackage",
                    "parameters": [p_export, p_unit],
                    "responses": {
                        "200": {
                            "description": "file",
                            "content": {
                                "application/geopackage+sqlite3": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "404": err,
                    },
                }
            },
            "/api/search": {
                "get": {
                    "summary": "Units by name (diacritics and case ignored)",
                    "operationId": "searchUnits",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "description": "results; a larger value is served as 100",
                            "schema": {"type": "integer", "minimum": 1, "default": 20},
                        },
                    ],
                    "responses": {"200": {"description": "units", "content": js}},
                }
            },
            "/api/units": {
                "get": {
                    "summary": "Units directly below a unit (top level without parent)",
                    "operationId": "childUnits",
                    "parameters": [{"name": "parent", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "units", "content": js}, "404": err},
                }
            },
            "/api/stats": {
                "get": {
                    "summary": "Conference figures of a unit and below",
                    "operationId": "unitStats",
                    "parameters": [p_unit, p_tier],
                    "responses": {"200": {"description": "figures", "content": js}, "404": err},
                }
            },
            **_planning_paths(js=js, gj=gj, err=err),
            **_registry_paths(js=js, gj=gj, err=err, p_bbox=p_bbox, p_unit=p_unit),
            **_edit_paths(js=js, err=err),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "message_vi": {"type": "string", "description": "the message in Vietnamese"},
                    },
                }
            },
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token from `geo-antt token create NAME` (no CSRF header needed)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": current_app.config.get("SESSION_COOKIE_NAME", "session"),
                    "description": "the browser session after /login; state-changing requests also "
                    "need the X-CSRFToken header (the page's csrf-token meta tag)",
                },
            },
        },
        "security": [{"token": []}, {"session": []}],
    }
    _complete_responses(doc, err)
    return doc


# Status codes every operation may answer: bad or unknown parameters (400), not logged in (401),
# outside the account's area (403), unknown unit or id (404), rate limit (429), the store busy
# with another writer (503); and with a body, a body over the size limit (413).
_COMMON_STATUS = ("400", "401", "403", "404", "429", "503")
# Query parameters every operation accepts: the output format and the language.
_ALWAYS_ALLOWED_QUERY = frozenset({"f", "lang"})


def _complete_responses(doc: dict[str, Any], err: dict[str, Any]) -> None:
    """Add the common error responses to every operation of ``doc`` that does not list them."""
    for ops in doc["paths"].values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            for code in _COMMON_STATUS + (("413",) if "requestBody" in op else ()):
                responses.setdefault(code, err)


def _route_key(path: str) -> str:
    """A route with its variables blanked: ``/a/<cid>/b`` and ``/a/{collectionId}/b`` match."""
    return re.sub(r"<[^>]*>|\{[^}]*\}", "{}", path)


def _documented_query_params() -> dict[tuple[str, str], frozenset[str]]:
    """``{(METHOD, route key): query parameter names}`` of the OpenAPI document (once per app)."""
    ext = current_app.extensions["geo_antt"]
    known = getattr(ext, "query_params", None)
    if known is None:
        known = {}
        for path, ops in openapi_document()["paths"].items():
            for method, op in ops.items():
                names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
                known[(method.upper(), _route_key(path))] = frozenset(names) | _ALWAYS_ALLOWED_QUERY
        ext.query_params = known
    return known


@bp.before_app_request
def _reject_unknown_query_params() -> None:
    """An operation of the OpenAPI document called with a query parameter it does not take is a
    client error (400 naming it; OGC API - Features ``/req/core/query-param-invalid``), never
    silently ignored: a misspelt ``bbox`` must not return everything.
    """
    rule = request.url_rule
    if rule is None or not request.args:
        return
    allowed = _documented_query_params().get((request.method, _route_key(rule.rule)))
    if allowed is None:
        return
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:5])
        raise GeoAnttError(f"unknown query parameter(s) {shown}: this operation takes {', '.join(sorted(allowed))}")


def _planning_paths(*, js, gj, err) -> dict[str, Any]:
    """OpenAPI paths of :mod:`geo_antt.app.planning` (``/api/plan``, ``/report``)."""
    from ..layers import MAX_MIN_SPACING_M
    from .planning import _SOLVERS, MAX_COUNT, MAX_TIME_LIMIT_S

    body = {
        "type": "object",
        "required": ["unit"],
        "additionalProperties": False,
        "properties": {
            "unit": {"type": "string", "description": "code of the commune or hamlet to plan in"},
            "kind": {
                "type": "string",
                "default": "camera",
                "description": "model kind (camera, lighting, checkpoint...)",
            },
            "count": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT, "description": "sites to place"},
            "budget_vnd": {"type": "number", "minimum": 0, "description": "budget in VND (with unit_cost_vnd)"},
            "unit_cost_vnd": {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "description": "cost of one site in VND",
            },
            "solver": {"type": "string", "enum": list(_SOLVERS), "default": "auto"},
            "time_limit_s": {
                "type": "number",
                "minimum": 1,
                "maximum": MAX_TIME_LIMIT_S,
                "description": "solver time limit, seconds",
            },
            "min_spacing_m": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_MIN_SPACING_M,
                "description": "least distance between two proposed sites, metres (default: the kind's layer spec, 30 for cameras)",
            },
            "tier": {
                "type": "string",
                "enum": list(
                    dict.fromkeys(t.code for s in current_app.extensions["geo_antt"].specs.values() for t in s.tiers)
                ),
                "description": "plan cameras for one purpose (IEC 62676-4): the new cameras' range is that tier's "
                "for the layer spec's resolution (1920 px) and field of view; registered cameras count with "
                "their tier ranges",
            },
        },
    }
    return {
        "/api/plan": {
            "post": {
                "summary": "Where new models would cover the most uncovered area (maximal covering location problem)",
                "operationId": "planSites",
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {
                    "200": {"description": "proposed sites and their footprints, with a summary", "content": gj},
                    "400": err,
                    "403": err,
                    "404": err,
                },
            }
        },
        "/report/{unitCode}.{format}": {
            "get": {
                "summary": "Review-conference report (sơ kết, tổng kết) of a unit for a period",
                "operationId": "unitReport",
                "parameters": [
                    {"name": "unitCode", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "format",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["html", "xlsx", "pdf"]},
                    },
                    {
                        "name": "period",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "START:END as ISO dates, e.g. 2025-01-01:2025-06-30 (default: this year to date)",
                    },
                    {
                        "name": "compare",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["year", "before"], "default": "year"},
                        "description": "the period compared with: the same dates a year earlier, or the period of the same length just before",
                    },
                    {
                        "name": "lang",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["vi", "en"], "default": "vi"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the report file",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "400": err,
                    "403": err,
                    "404": err,
                },
            }
        },
    }


def _edit_paths(*, js, err) -> dict[str, Any]:
    """OpenAPI paths of :mod:`geo_antt.app.edit` (``/api/edit/...``)."""
    from .edit import openapi_paths

    return openapi_paths(js=js, err=err)


def _model_properties_schema() -> dict[str, Any]:
    """JSON schema of a model's fields with their limits: ``maxLength`` of every text field
    (characters), ``minimum``/``maximum`` of every parameter (the widest over the kinds; each
    kind's own bounds, from ``layers/*.toml`` ``[bounds]``, are in the description).
    """
    specs = get_catalog().specs
    out: dict[str, Any] = {}
    for fld, limit in TEXT_MAX_LENGTH.items():
        if fld not in ("id", "data_sharing"):
            out[fld] = {"type": "string", "maxLength": limit}
    out["status"]["enum"] = list(STATUSES)
    for fld in BOUNDED_FIELDS:
        pairs = {k: s.bounds[fld] for k, s in specs.items() if s.footprint != "none"}
        unit = "degrees" if fld.endswith("_deg") else "metres"
        per_kind = "; ".join(f"{k} {lo:g}-{hi:g}" for k, (lo, hi) in pairs.items())
        out[fld] = {
            "type": "number",
            "nullable": True,
            "description": f"{unit}; per kind: {per_kind}; null = the kind's default",
        }
        if pairs:
            out[fld]["minimum"] = min(lo for lo, _ in pairs.values())
            out[fld]["maximum"] = max(hi for _, hi in pairs.values())
    out["direction_deg"] = {
        "type": "array",
        "maxItems": MAX_DIRECTIONS,
        "description": "degrees clockwise from north, one sector each",
        "items": {"type": "number", "minimum": 0, "maximum": 360},
    }
    return {"type": "object", "properties": out}


def _registry_paths(*, js, gj, err, p_bbox, p_unit) -> dict[str, Any]:
    """OpenAPI paths of :mod:`geo_antt.app.registry` (``/api/registry/...``)."""
    p_id = {"name": "modelId", "in": "path", "required": True, "schema": {"type": "string"}}
    version = {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}}
    patch: dict[str, Any] = {
        "type": "object",
        "required": ["version", "changes"],
        "properties": {
            "version": {"type": "integer", "description": "the version read; 409 when someone saved since"},
            "changes": {"type": "object", "description": "model fields to change; geometry as a GeoJSON Point"},
        },
    }
    upload = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "CSV, XLSX, GeoJSON or GeoPackage"},
            "unit": {"type": "string", "description": "the unit the file belongs to"},
            "commit": {"type": "string", "enum": ["0", "1"], "description": "1: apply the import previewed"},
            "fingerprint": {"type": "string", "description": "the preview's fingerprint (needed with commit=1)"},
            "skip_rejected": {
                "type": "string",
                "enum": ["0", "1"],
                "description": "1: commit the good rows, skip rejected ones",
            },
        },
    }
    w = {"400": err, "403": err, "404": err, "409": err}
    texts = {
        "type": "object",
        "required": ["vi", "en"],
        "properties": {"vi": {"type": "string"}, "en": {"type": "string"}},
    }
    count = {"type": "integer", "nullable": True, "minimum": 0}
    job = {
        "type": "object",
        "required": ["id", "kind", "state", "progress", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["preview", "commit"]},
            "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": "string", "nullable": True, "format": "date-time"},
            "file": {"type": "string"},
            "unit": {"type": "string", "nullable": True},
            "progress": {
                "type": "object",
                "required": ["phase", "text"],
                "properties": {
                    "phase": {"type": "string", "enum": ["queued", "reading", "checking", "writing", "done", "failed"]},
                    "text": texts,
                    "rows": count,
                    "total": count,
                },
            },
            "result": {
                "type": "object",
                "description": "state done: the preview (with its fingerprint), or the commit's counts",
            },
            "error": {
                "type": "object",
                "required": ["status", "error", "message"],
                "description": "state failed",
                "properties": {
                    "status": {"type": "integer"},
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "problems": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    }
    props = _model_properties_schema()
    feature = {
        "type": "object",
        "required": ["properties", "geometry"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string", "maxLength": TEXT_MAX_LENGTH["id"], "description": "generated when absent"},
            "properties": props,
            "geometry": {"type": "object", "description": "a GeoJSON Point (or a line for lighting), lon/lat degrees"},
        },
    }
    patch["properties"]["changes"] = {**props, "description": "model fields to change; geometry as a GeoJSON Point"}
    return {
        "/api/registry/excluded": {
            "get": {
                "summary": "Admin: stored models left out of the map and coverage (a parameter outside its kind's bounds)",
                "operationId": "excludedModels",
                "responses": {
                    "200": {"description": "{models: [{id, field, value, reason}]}", "content": js},
                    "403": err,
                },
            }
        },
        "/api/registry/models": {
            "get": {
                "summary": "Models of the registry (within the account's units)",
                "operationId": "listModels",
                "parameters": [
                    p_unit,
                    p_bbox,
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(STATUSES)},
                    },
                ],
                "responses": {
                    "200": {"description": "GeoJSON FeatureCollection", "content": {**gj, **js}},
                    "400": err,
                    "403": err,
                },
            },
            "post": {
                "summary": "Create a model",
                "operationId": "createModel",
                "requestBody": {"required": True, "content": {"application/json": {"schema": feature}}},
                "responses": {"201": {"description": "the stored model (a GeoJSON Feature)", "content": gj}, **w},
            },
        },
        "/api/registry/models/{modelId}": {
            "get": {
                "summary": "One model with its version",
                "operationId": "getModel",
                "parameters": [p_id],
                "responses": {"200": {"description": "GeoJSON Feature", "content": gj}, "403": err, "404": err},
            },
            "patch": {
                "summary": "Change a model (optimistic locking by version)",
                "operationId": "updateModel",
                "parameters": [p_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": patch}}},
                "responses": {"200": {"description": "the stored model", "content": gj}, **w},
            },
        },
        "/api/registry/models/{modelId}/retire": {
            "post": {
                "summary": "Retire a model (status inactive; nothing is deleted)",
                "operationId": "retireModel",
                "parameters": [p_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": version}}},
                "responses": {"200": {"description": "the stored model", "content": gj}, **w},
            }
        },
        "/api/registry/audit": {
            "get": {
                "summary": "Audit log, newest first: who changed what, when, old and new values",
                "operationId": "auditLog",
                "parameters": [
                    {"name": "model", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "user",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "account name",
                    },
                    p_unit,
                    {
                        "name": "since",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "format": "date"},
                        "description": "first day (Vietnam time), ISO date",
                    },
                    {
                        "name": "until",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "format": "date"},
                        "description": "last day (Vietnam time), ISO date",
                    },
                    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
                    {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
                ],
                "responses": {
                    "200": {
                        "description": "entries, newest first",
                        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
                    },
                    "403": err,
                },
            }
        },
        "/api/registry/coverage": {
            "get": {
                "summary": "Coverage per unit from the store's per-area cache",
                "operationId": "registryCoverage",
                "parameters": [
                    p_unit,
                    {
                        "name": "level",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["hamlet", "commune"], "default": "hamlet"},
                    },
                ],
                "responses": {"200": {"description": "figures per unit", "content": js}, "403": err},
            }
        },
        "/api/registry/import": {
            "post": {
                "summary": "Start an import job: a preview first, then commit=1 with its fingerprint (all or nothing)",
                "description": "The file is read, checked and (commit=1) written by a background job; poll the "
                "job at the Location given. Its result is the preview, or the counts committed.",
                "operationId": "importModels",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": upload}}},
                "responses": {
                    "202": {
                        "description": "the job, queued",
                        "headers": {
                            "Location": {
                                "description": "/api/registry/jobs/{jobId}",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {"application/json": {"schema": job}},
                    },
                    "429": {**err, "description": "too many unfinished import jobs (of the account or the server)"},
                    **w,
                },
            }
        },
        "/api/registry/jobs/{jobId}": {
            "get": {
                "summary": "An import job of the current account: state, progress, and its result or error",
                "operationId": "importJob",
                "parameters": [{"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "the job", "content": {"application/json": {"schema": job}}},
                    "404": {**err, "description": "unknown or expired job, or another account's"},
                },
            }
        },
    }


# -- exports -----------------------------------------------------------------------------------


@bp.get("/export/<name>")
def export(name: str):
    """``/export/{collection}.geojson`` or ``.gpkg``, optionally ``?unit=CODE``."""
    cid, dot, fmt = name.rpartition(".")
    if not dot or fmt not in ("geojson", "gpkg"):
        raise NotFoundError(f"unknown export {name!r}: use /export/COLLECTION.geojson or /export/COLLECTION.gpkg")
    cat = get_catalog()
    cat.get(cid)
    unit = _unit_arg()
    allowed = scope_codes()
    filename = _SAFE_NAME.sub("_", f"{cid}_{unit}" if unit else cid) + "." + fmt
    if fmt == "geojson":
        body: str | bytes = cat.export_geojson(cid, unit=unit, allowed=allowed)
        mimetype = GEOJSON
    else:
        body = cat.export_gpkg(cid, unit=unit, allowed=allowed)
        mimetype = "application/geopackage+sqlite3"
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


# -- side-panel JSON ---------------------------------------------------------------------------


@bp.get("/api/search")
def search():
    q = request.args.get("q")
    if q is None:
        raise GeoAnttError("q: the text to search for is required (/api/search?q=...)")
    if len(q) > MAX_QUERY_CHARS:
        raise GeoAnttError(f"q: at most {MAX_QUERY_CHARS} characters, got {len(q)}")
    limit = _int_arg("limit", 20, minimum=1, maximum=100)
    return jsonify({"query": q, "results": get_catalog().search(q, limit=limit, allowed=scope_codes())})


@bp.get("/api/units")
def units():
    parent = request.args.get("parent") or None
    return jsonify({"parent": parent, "units": get_catalog().children(parent, allowed=scope_codes())})


@bp.get("/api/stats")
def stats():
    unit = _unit_arg()
    return jsonify(get_tier_catalog(tier_arg()).stats(unit, lang=_lang(), allowed=scope_codes()))
