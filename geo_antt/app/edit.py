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
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from flask import Blueprint, current_app, jsonify, request, url_for

from .._errors import GeoAnttError, NotFoundError, PermissionDeniedError
from ..catalog import UNIT_COLLECTIONS
from ..schema import UNIT_LEVELS
from ..text import nfc
from .auth import current_user
from .context import get_catalog, scope_codes
from .context import request_lang as _lang

__all__ = ["bp", "EDIT_STRINGS", "EDIT_PARAMS", "editable_kinds", "locate_unit", "openapi_paths"]

bp = Blueprint("edit", __name__)
LANGS = ("vi", "en")

# footprint rule -> the parameters the form shows (units in the names: degrees, metres)
EDIT_PARAMS: dict[str, tuple[str, ...]] = {
    "sector": ("direction_deg", "fov_deg", "range_m"),
    "disc": ("radius_m",),
}

EDIT_STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "edit_mode": "Sửa bản đồ",
        "edit_mode_off": "Thoát chế độ sửa",
        "edit_hint": "Nhấn vào bản đồ để thêm mô hình; nhấn vào một mô hình để sửa.",
        "add_title": "Thêm mô hình",
        "edit_title": "Sửa mô hình",
        "edit_button": "Sửa",
        "kind": "Loại mô hình",
        "name": "Tên",
        "field": "Lĩnh vực",
        "host": "Nơi triển khai",
        "status": "Tình trạng",
        "start_date": "Ngày bắt đầu",
        "end_date": "Ngày kết thúc",
        "direction_deg": "Hướng (°; Bắc = 0, Đông = 90)",
        "fov_deg": "Góc nhìn (°)",
        "range_m": "Tầm xa (m)",
        "radius_m": "Bán kính (m)",
        "resolution_px": "Độ phân giải (điểm ảnh ngang; 2MP = 1920)",
        "lens": "Ống kính",
        "tier_ranges": "Tầm theo mục đích",
        "tier_no_resolution": "Nhập độ phân giải để xem tầm phát hiện, quan sát, nhận biết, nhận dạng",
        "err_resolution": "phải là số điểm ảnh trong giới hạn cho phép",
        "unit": "Địa bàn",
        "position": "Vị trí",
        "none": "— không chọn —",
        "locating": "Đang xác định địa bàn…",
        "save": "Lưu",
        "cancel": "Huỷ",
        "retire": "Ngừng hoạt động",
        "retire_confirm": "Chuyển mô hình này sang trạng thái “Ngừng hoạt động”? Mô hình vẫn được giữ trong sổ.",
        "retire_yes": "Xác nhận ngừng hoạt động",
        "retire_no": "Không",
        "saving": "Đang lưu…",
        "saved": "Đã lưu. Các lớp độ phủ đã được cập nhật.",
        "retired": "Đã chuyển sang ngừng hoạt động.",
        "drag_sector": "Kéo biểu tượng để di chuyển; kéo chấm tròn ở đầu trục để đổi hướng và tầm xa.",
        "drag_disc": "Kéo biểu tượng để di chuyển; kéo chấm tròn để đổi bán kính.",
        "finish_first": "Hãy lưu hoặc huỷ mô hình đang sửa trước.",
        "version": "Phiên bản",
        "err_outside": "Vị trí này nằm ngoài địa bàn được giao cho tài khoản của bạn; bạn chỉ được thêm, sửa mô hình trong địa bàn của mình.",
        "err_forbidden": "Không được phép: mô hình hoặc vị trí này nằm ngoài địa bàn được giao cho tài khoản của bạn.",
        "err_no_unit": "Vị trí này không thuộc đơn vị hành chính nào trong dữ liệu.",
        "err_conflict": "Mô hình này vừa được người khác thay đổi. Dữ liệu mới nhất đã được tải lại; hãy kiểm tra và sửa lại.",
        "err_not_found": "Không tìm thấy mô hình này (hoặc nó nằm ngoài địa bàn của bạn).",
        "err_invalid": "Dữ liệu chưa hợp lệ, hãy sửa các ô được đánh dấu.",
        "err_number": "phải là một số",
        "err_fov": "phải lớn hơn 0 và không quá 360 độ",
        "err_metres": "phải là số mét không âm",
        "err_code": "không có trong danh mục",
        "err_date": "ngày không hợp lệ (năm-tháng-ngày)",
        "err_geometry": "vị trí không hợp lệ",
        "err_kind": "loại mô hình không hợp lệ",
        "err_unit": "đơn vị không có trong sổ",
        "err_value": "giá trị không hợp lệ",
        "err_login": "Phiên đăng nhập đã hết hạn; hãy tải lại trang và đăng nhập lại.",
        "err_csrf": "Phiên làm việc của trang đã hết hạn; hãy tải lại trang rồi thử lại.",
        "err_server": "Lỗi máy chủ",
        "err_network": "Không kết nối được với máy chủ.",
    },
    "en": {
        "edit_mode": "Edit the map",
        "edit_mode_off": "Leave edit mode",
        "edit_hint": "Click the map to add a model; click a model to edit it.",
        "add_title": "Add a model",
        "edit_title": "Edit model",
        "edit_button": "Edit",
        "kind": "Kind of model",
        "name": "Name",
        "field": "Field",
        "host": "Host",
        "status": "Status",
        "start_date": "Start date",
        "end_date": "End date",
        "direction_deg": "Direction (°; north 0, east 90)",
        "fov_deg": "Field of view (°)",
        "range_m": "Range (m)",
        "radius_m": "Radius (m)",
        "resolution_px": "Resolution (horizontal pixels; 2MP = 1920)",
        "lens": "Lens",
        "tier_ranges": "Range by purpose",
        "tier_no_resolution": "Enter the resolution to see the detect, observe, recognise and identify ranges",
        "err_resolution": "must be a number of pixels within the allowed range",
        "unit": "Area",
        "position": "Position",
        "none": "— none —",
        "locating": "Finding the area…",
        "save": "Save",
        "cancel": "Cancel",
        "retire": "Retire (inactive)",
        "retire_confirm": "Set this model to “Inactive”? It stays in the registry.",
        "retire_yes": "Yes, retire it",
        "retire_no": "No",
        "saving": "Saving…",
        "saved": "Saved. The coverage layers are up to date.",
        "retired": "Set to inactive.",
        "drag_sector": "Drag the icon to move it; drag the dot at the end of the axis to set direction and range.",
        "drag_disc": "Drag the icon to move it; drag the dot to set the radius.",
        "finish_first": "Save or cancel the model you are editing first.",
        "version": "Version",
        "err_outside": "This position lies outside the area assigned to your account; you may only add and edit models in your own area.",
        "err_forbidden": "Not allowed: this model or position lies outside the area assigned to your account.",
        "err_no_unit": "This position lies in no administrative unit of the data.",
        "err_conflict": "Someone else has just changed this model. The latest version was reloaded; check it and edit again.",
        "err_not_found": "This model was not found (or it lies outside your area).",
        "err_invalid": "Some values are not valid; correct the marked fields.",
        "err_number": "must be a number",
        "err_fov": "must be more than 0 and at most 360 degrees",
        "err_metres": "must be a number of metres, 0 or more",
        "err_code": "is not in the list",
        "err_date": "is not a valid date (year-month-day)",
        "err_geometry": "is not a valid position",
        "err_kind": "is not a known kind of model",
        "err_unit": "is not a unit of the registry",
        "err_value": "is not valid",
        "err_login": "Your session has ended; reload the page and log in again.",
        "err_csrf": "This page's session has expired; reload the page and try again.",
        "err_server": "Server error",
        "err_network": "The server cannot be reached.",
    },
}


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

    return {
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
