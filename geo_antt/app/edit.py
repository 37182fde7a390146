"""Editing models on the map page: the text and settings of ``web/static/js/edit.js``, and where
a clicked point lies.

Editors (admin, officer) get an "Edit" mode on the map: a click adds a model (kind, name, field,
host, status, dates and the kind's parameters, prefilled from the layer spec defaults), a
selected model can be dragged, a handle sets a camera's direction and range (a light's or
checkpoint's radius), attributes can be changed and a model retired. The writes go through the
JSON API of :mod:`geo_antt.app.registry`, which enforces role, unit scope and versions (409); this
module only adds:

``edit_t`` / ``edit_config`` (template context)
    The edit UI's text (Vietnamese, English with ``?lang=en``), the editable kinds with their
    footprint rule and default parameters, the URLs. Only for accounts that may edit: viewers
    get no edit script and no controls at all.
``GET /api/edit/locate?lon=..&lat=..[&unit=CODE]``
    The deepest administrative unit of the user's scope that covers the point (degrees, WGS84),
    as ``{"code", "name", "level", "context"}`` (``unit``: kept when it still covers the point);
    the new or moved model is filed under it. 403
    when the point lies in no unit of the user's area, 404 when it lies in no unit at all.
``POST /api/edit/footprint``
    What a model being placed or turned would see (:func:`geo_antt.catalog.preview.preview_footprint`):
    its footprint cut by the buildings, for the editor to draw while the officer drags; the
    record is checked by the store's one validation path (400 naming the field and its bounds);
    nothing is written.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from flask import Blueprint, current_app, jsonify, request, url_for

from .._errors import GeoAnttError, NotFoundError, PermissionDeniedError
from ..catalog import UNIT_COLLECTIONS
from ..catalog.preview import preview_footprint
from ..i18n import N_, strings_table
from ..schema import UNIT_LEVELS
from ..text import nfc
from .auth import current_user
from .context import get_catalog, scope_codes
from .context import request_lang as _lang
from .registry import _body

__all__ = ["bp", "EDIT_STRINGS", "EDIT_PARAMS", "editable_kinds", "locate_unit", "openapi_paths"]

bp = Blueprint("edit", __name__)
LANGS = ("vi", "en")

# footprint rule -> the parameters the form shows (units in the names: degrees, metres)
EDIT_PARAMS: dict[str, tuple[str, ...]] = {
    "sector": ("direction_deg", "fov_deg", "range_m"),
    "disc": ("radius_m",),
}

EDIT_STRINGS: dict[str, dict[str, str]] = strings_table(
    "edit",
    {
        "edit_mode": N_("edit", "Edit the map"),
        "edit_mode_off": N_("edit", "Leave edit mode"),
        "edit_hint": N_("edit", "Click the map to add a model; click a model to edit it."),
        "add_title": N_("edit", "Add a model"),
        "edit_title": N_("edit", "Edit model"),
        "edit_button": N_("edit", "Edit"),
        "kind": N_("edit", "Kind of model"),
        "name": N_("edit", "Name"),
        "field": N_("edit", "Field"),
        "host": N_("edit", "Host"),
        "status": N_("edit", "Status"),
        "start_date": N_("edit", "Start date"),
        "end_date": N_("edit", "End date"),
        "direction_deg": N_("edit", "Direction (°; north 0, east 90)"),
        "fov_deg": N_("edit", "Field of view (°)"),
        "range_m": N_("edit", "Range (m)"),
        "radius_m": N_("edit", "Radius (m)"),
        "unit": N_("edit", "Area"),
        "position": N_("edit", "Position"),
        "none": N_("edit", "— none —"),
        "locating": N_("edit", "Finding the area…"),
        "save": N_("edit", "Save"),
        "cancel": N_("edit", "Cancel"),
        "retire": N_("edit", "Retire (inactive)"),
        "retire_confirm": N_("edit", "Set this model to “Inactive”? It stays in the registry."),
        "retire_yes": N_("edit", "Yes, retire it"),
        "retire_no": N_("edit", "No"),
        "saving": N_("edit", "Saving…"),
        "saved": N_("edit", "Saved. The coverage layers are up to date."),
        "retired": N_("edit", "Set to inactive."),
        "drag_sector": N_(
            "edit", "Drag the icon to move it; drag the dot at the end of the axis to set direction and range."
        ),
        "drag_disc": N_("edit", "Drag the icon to move it; drag the dot to set the radius."),
        "finish_first": N_("edit", "Save or cancel the model you are editing first."),
        "version": N_("edit", "Version"),
        "err_outside": N_(
            "edit",
            "This position lies outside the area assigned to your account; you may only add and edit models in your own area.",
        ),
        "err_forbidden": N_(
            "edit", "Not allowed: this model or position lies outside the area assigned to your account."
        ),
        "err_no_unit": N_("edit", "This position lies in no administrative unit of the data."),
        "err_conflict": N_(
            "edit",
            "Someone else has just changed this model. The latest version was reloaded; check it and edit again.",
        ),
        "err_not_found": N_("edit", "This model was not found (or it lies outside your area)."),
        "err_invalid": N_("edit", "Some values are not valid; correct the marked fields."),
        "err_number": N_("edit", "must be a number"),
        "err_fov": N_("edit", "must be more than 0 and at most 360 degrees"),
        "err_direction": N_("edit", "each direction must be from 0 to 360 degrees clockwise from north"),
        "err_metres": N_("edit", "must be a number of metres, 0 or more"),
        "err_code": N_("edit", "is not in the list"),
        "err_date": N_("edit", "is not a valid date (year-month-day)"),
        "err_geometry": N_("edit", "is not a valid position"),
        "err_kind": N_("edit", "is not a known kind of model"),
        "err_unit": N_("edit", "is not a unit of the registry"),
        "err_value": N_("edit", "is not valid"),
        "err_login": N_("edit", "Your session has ended; reload the page and log in again."),
        "err_csrf": N_("edit", "This page's session has expired; reload the page and try again."),
        "err_server": N_("edit", "Server error"),
        "err_network": N_("edit", "The server cannot be reached."),
        "resolution_px": N_("edit", "Resolution (horizontal pixels; 2MP = 1920)"),
        "lens": N_("edit", "Lens"),
        "tier_ranges": N_("edit", "Range by purpose"),
        "tier_no_resolution": N_(
            "edit", "Enter the resolution to see the detect, observe, recognise and identify ranges"
        ),
        "err_resolution": N_("edit", "must be a number of pixels within the allowed range"),
    },
)


def _can_edit() -> bool:
    user = current_user()
    return bool(user is not None and getattr(user, "can_edit", False))


def editable_kinds(specs: Any, *, lang: str = "vi") -> list[dict[str, Any]]:
    """The kinds a model can be drawn as on the map (footprint rule ``sector`` or ``disc``), with
    their title, colour, rule, form parameters, default parameter values and the allowed
    ``[low, high]`` of each (``bounds``, metres or degrees; layer spec).

    Parameters
    ----------
    specs
        ``{kind: LayerSpec}`` (:func:`geo_antt.layers.load_layer_specs`).
    lang
        ``"vi"`` or ``"en"`` for the titles.
    """
    out = []
    for kind, spec in specs.items():
        params = EDIT_PARAMS.get(spec.footprint)
        if not spec.spatial or params is None:
            continue
        if spec.tiers:  # a camera's resolution gives its range per purpose (geo_antt.tiers)
            params = (*params, "resolution_px")
        defaults = {p: float(spec.defaults[p]) for p in params if p in spec.defaults}
        if spec.footprint == "sector":
            defaults.setdefault("direction_deg", 0.0)
        bounds = {p: list(spec.bounds[p]) for p in params if p in spec.bounds}
        out.append(
            {
                "code": kind,
                "title": nfc(spec.title(lang)),
                "color": spec.color,
                "rule": spec.footprint,
                "params": list(params),
                "defaults": defaults,
                "bounds": bounds,
                "tiers": bool(spec.tiers),
            }
        )
    return out


@bp.app_context_processor
def _edit_context() -> dict[str, Any]:
    """``edit_t`` and ``edit_config`` for the map page, for editors only (empty otherwise)."""
    if not request or not _can_edit():
        return {}
    lang = _lang()
    t = EDIT_STRINGS[lang]
    specs = current_app.extensions["geo_antt"].specs
    config = {
        "lang": lang,
        "strings": t,
        "kinds": editable_kinds(specs, lang=lang),
        "urls": {
            "models": url_for("registry.create_model"),
            "model": url_for("registry.get_model", model_id="__ID__"),
            "retire": url_for("registry.retire_model", model_id="__ID__"),
            "locate": url_for("edit.locate"),
            "footprint": url_for("edit.footprint"),
        },
    }
    return {"edit_t": t, "edit_config": config}


def locate_unit(
    catalog: Any, lon: float, lat: float, *, allowed: frozenset[str] | None, prefer: str | None = None
) -> dict[str, Any]:
    """The deepest unit of ``catalog`` in ``allowed`` (None: any) that covers the point; or
    ``prefer`` when it is allowed and covers the point (a moved model stays filed under its unit).

    Parameters
    ----------
    catalog
        A :class:`geo_antt.catalog.Catalog`.
    lon, lat
        The point in degrees (WGS84).
    allowed
        Unit codes the user may use (:func:`geo_antt.app.scope_codes`); None for all.
    prefer
        A unit code to keep when it still covers the point (the unit a model is filed under).

    Returns
    -------
    dict
        ``code``, ``name``, ``level`` and ``context`` (the names of the units above, nearest
        first, comma separated).

    Raises
    ------
    PermissionDeniedError
        The point lies in units, but in none of ``allowed``.
    NotFoundError
        The point lies in no unit at all.
    """
    pt = shapely.Point(lon, lat)

    def answer(code: str) -> dict[str, Any]:
        row = catalog.unit(code)
        context = ", ".join(nfc(str(catalog.units.loc[a, "name"])) for a in catalog.ancestors(code))
        return {"code": code, "name": nfc(str(row["name"])), "level": str(row["level"]), "context": context}

    if prefer and prefer in catalog.units.index and (allowed is None or prefer in allowed):
        geom = catalog.units.geometry.loc[prefer]
        if geom is not None and not geom.is_empty and geom.covers(pt):
            return answer(prefer)
    by_level = {level: cid for cid, (level, _vi, _en) in UNIT_COLLECTIONS.items()}
    outside = False
    for level in reversed(UNIT_LEVELS):
        col = catalog.collections.get(by_level[level])
        if col is None:
            continue
        pos = col.frame.sindex.query(pt, predicate="covered_by")
        if not len(pos):
            continue
        codes = sorted(str(c) for c in col.frame.index[pos])
        inside = [c for c in codes if allowed is None or c in allowed]
        if not inside:
            outside = True
            continue
        return answer(inside[0])
    if outside:
        raise PermissionDeniedError(f"the position {lon:.6f}, {lat:.6f} lies outside your area")
    raise NotFoundError(f"the position {lon:.6f}, {lat:.6f} lies in no administrative unit")


def _coordinate(name: str, low: float, high: float) -> float:
    raw = request.args.get(name)
    try:
        v = float(raw) if raw is not None else math.nan
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and low <= v <= high):
        raise GeoAnttError(f"'{name}' must be a number of degrees in [{low:g}, {high:g}], got {raw!r}")
    return v


@bp.get("/api/edit/locate")
def locate() -> Any:
    """The unit of the user's scope a point lies in (see :func:`locate_unit`)."""
    lon = _coordinate("lon", -180.0, 180.0)
    lat = _coordinate("lat", -90.0, 90.0)
    return jsonify(locate_unit(get_catalog(), lon, lat, allowed=scope_codes(), prefer=request.args.get("unit") or None))


# the fields of a model that decide its footprint (the rest of a record is not needed to draw it)
_FOOTPRINT_FIELDS = ("kind", "direction_deg", "fov_deg", "range_m", "radius_m", "height_m")


@bp.post("/api/edit/footprint")
def footprint() -> Any:
    """The footprint a model would have (a GeoJSON Feature), for the editor's drawing (editors only)."""
    if not _can_edit():
        user = current_user()
        raise PermissionDeniedError(f"account {getattr(user, 'name', None)!r} may not edit models")
    body = _body()
    props = body.get("properties") if body.get("type") == "Feature" else body
    if not isinstance(props, dict):
        raise GeoAnttError("'properties' must be an object")
    record = {k: props[k] for k in _FOOTPRINT_FIELDS if k in props}
    record["geometry"] = body.get("geometry") if body.get("type") == "Feature" else props.get("geometry")
    ext = current_app.extensions["geo_antt"]
    rec = ext.store.check_model(record)
    return jsonify(preview_footprint(get_catalog(), rec, specs=ext.specs))


def openapi_paths(*, js: dict[str, Any], err: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.0 paths of this module (merged into :func:`geo_antt.app.ogcapi.openapi_document`).

    Parameters
    ----------
    js, err
        The document's JSON content and error response objects.
    """

    def degrees(name: str, low: float, high: float, what: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": True,
            "description": f"{what}, degrees (WGS84)",
            "schema": {"type": "number", "minimum": low, "maximum": high},
        }

    params = {
        "kind": {"type": "string", "maxLength": 200},
        "direction_deg": {
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": 360},
                {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 360}, "maxItems": 16},
            ],
            "description": "degrees clockwise from north (one per sector)",
        },
        "fov_deg": {"type": "number", "description": "degrees, within the kind's bounds"},
        "range_m": {"type": "number", "description": "metres, within the kind's bounds"},
        "radius_m": {"type": "number", "description": "metres, within the kind's bounds"},
        "height_m": {"type": "number", "description": "metres above the ground"},
    }
    point = {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3},
        },
    }
    return {
        "/api/edit/footprint": {
            "post": {
                "summary": "Editors: the footprint a model would have there (cut by the buildings), nothing written",
                "operationId": "previewFootprint",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["type", "geometry", "properties"],
                                "properties": {
                                    "type": {"type": "string", "enum": ["Feature"]},
                                    "geometry": point,
                                    "properties": {"type": "object", "required": ["kind"], "properties": params},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "a GeoJSON Feature: the visible footprint; area_m2, sector_m2 (m²), occluded, buildings, inside_building",
                        "content": js,
                    },
                    "400": err,
                    "403": err,
                },
            }
        },
        "/api/edit/locate": {
            "get": {
                "summary": "The deepest unit of the account's area that covers a point (where a model placed there is filed)",
                "operationId": "locateUnit",
                "parameters": [
                    degrees("lon", -180.0, 180.0, "longitude"),
                    degrees("lat", -90.0, 90.0, "latitude"),
                    {
                        "name": "unit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "a unit code kept when it still covers the point (the unit a moved model is filed under)",
                    },
                ],
                "responses": {
                    "200": {"description": "code, name, level, context (names of the units above)", "content": js},
                    "400": err,
                    "403": err,
                    "404": err,
                },
            }
        },
    }
