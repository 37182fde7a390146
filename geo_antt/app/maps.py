"""The map page: a folium (Leaflet) map in a page shell with a side panel.

folium draws the map, the optional tile layer, one empty layer per collection (a marker cluster
for cameras) and the layer control; ``web/static/js/map.js`` fills the layers from the OGC API
by bounding box on every move, builds popups with ``textContent`` (user text is never parsed as
HTML), draws the coverage legend and runs the side panel (drill-down, search, figures, least
covered hamlets, downloads). Text is Vietnamese by default, English with ``?lang=en``.
"""

from __future__ import annotations

import re
import threading
import weakref
from typing import Any, Literal

import folium
from flask import Blueprint, current_app, render_template, url_for
from folium.plugins import MarkerCluster

from ..config import COVERAGE_COLOURS
from ..schema import FIELDS, HOSTS, STATUSES
from ..text import nfc
from .assets import BASEMAP_SCRIPTS, TEXTPATH_SCRIPT
from .auth import current_user
from .basemap import get_basemap
from .context import get_catalog, get_meta, scope_codes
from .context import request_lang as _lang

__all__ = ["bp", "render_map", "STRINGS", "LANGS"]

bp = Blueprint("views", __name__)
LANGS = ("vi", "en")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{3,8}$")
_ICON = re.compile(r"^[a-z0-9-]+$")

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "app_title": "Bản đồ mô hình an ninh trật tự",
        "panel": "Bảng điều khiển",
        "search": "Tìm thôn, xã, tỉnh",
        "search_placeholder": "Tên hoặc mã, ví dụ: huong my, 28951",
        "no_results": "Không tìm thấy",
        "area": "Địa bàn",
        "all_areas": "Toàn bộ",
        "choose": "— chọn —",
        "figures": "Số liệu sơ kết, tổng kết",
        "models_total": "Tổng số mô hình",
        "by_kind": "Theo loại",
        "by_field": "Theo lĩnh vực",
        "by_host": "Theo nơi triển khai",
        "by_status": "Theo tình trạng",
        "coverage": "Tỷ lệ diện tích được phủ",
        "hamlets": "Số thôn",
        "least_covered": "Các thôn phủ thấp nhất",
        "downloads": "Tải dữ liệu địa bàn",
        "legend": "Tỷ lệ phủ (%)",
        "legend_covered": "Được phủ: trong tầm nhìn của camera, ánh sáng của đèn",
        "legend_occluded": "Được phủ: phần camera nhìn thấy, đèn chiếu tới; không xuyên qua nhà, trong nhà không tính",
        "covered_pct": "Tỷ lệ phủ",
        "area_m2": "Diện tích",
        "covered_m2": "Diện tích được phủ",
        "rank": "Thứ hạng (thấp nhất = 1)",
        "count": "Số lượng",
        "zoom_in": "Phóng to để xem hết",
        "loading": "Đang tải…",
        "no_coverage": "Chưa có số liệu độ phủ",
        "approximate": "Ranh giới gần đúng (dữ liệu minh hoạ)",
        "about_data": "Về bộ dữ liệu",
        "yes": "Có",
        "no": "Không",
        "language": "English",
        "panel_toggle": "Bảng",
        "name": "Tên",
        "status": "Tình trạng",
        "camera_type": "Loại camera",
        "direction_deg": "Hướng (độ)",
        "fov_deg": "Góc nhìn (độ)",
        "range_m": "Tầm xa (m)",
        "radius_m": "Bán kính (m)",
        "owner": "Chủ sở hữu",
        "data_sharing": "Chia sẻ dữ liệu",
        "host": "Nơi triển khai",
        "field": "Lĩnh vực",
        "start_date": "Ngày bắt đầu",
        "code": "Mã",
        "level": "Cấp",
        "kind": "Loại",
        "unit_code": "Đơn vị",
        "province": "Tỉnh",
        "district": "Huyện",
        "commune": "Xã",
        "hamlet": "Thôn",
        "basemap": "Bản đồ nền",
        "logout": "Đăng xuất",
        "role_admin": "quản trị",
        "role_officer": "cán bộ",
        "role_viewer": "xem",
    },
    "en": {
        "app_title": "Community security models map",
        "panel": "Panel",
        "search": "Find a hamlet, commune, province",
        "search_placeholder": "Name or code, e.g. huong my, 28951",
        "no_results": "Nothing found",
        "area": "Area",
        "all_areas": "Everything",
        "choose": "— choose —",
        "figures": "Figures for the review conference",
        "models_total": "Models in all",
        "by_kind": "By kind",
        "by_field": "By field",
        "by_host": "By host",
        "by_status": "By status",
        "coverage": "Share of area covered",
        "hamlets": "Hamlets",
        "least_covered": "Least-covered hamlets",
        "downloads": "Download the area's layers",
        "legend": "Covered (%)",
        "legend_covered": "Covered: in a camera's field of view or a light's reach",
        "legend_occluded": "Covered: what cameras see and lights reach, not through buildings; inside buildings never counts",
        "covered_pct": "Covered",
        "area_m2": "Area",
        "covered_m2": "Covered area",
        "rank": "Rank (least covered = 1)",
        "count": "Count",
        "zoom_in": "Zoom in to see all",
        "loading": "Loading…",
        "no_coverage": "No coverage figures",
        "approximate": "Approximate boundaries (demonstration data)",
        "about_data": "About the data",
        "yes": "Yes",
        "no": "No",
        "language": "Tiếng Việt",
        "panel_toggle": "Panel",
        "name": "Name",
        "status": "Status",
        "camera_type": "Camera type",
        "direction_deg": "Direction (degrees)",
        "fov_deg": "Field of view (degrees)",
        "range_m": "Range (m)",
        "radius_m": "Radius (m)",
        "owner": "Owner",
        "data_sharing": "Data sharing",
        "host": "Host",
        "field": "Field",
        "start_date": "Start date",
        "code": "Code",
        "level": "Level",
        "kind": "Kind",
        "unit_code": "Unit",
        "province": "Province",
        "district": "District",
        "commune": "Commune",
        "hamlet": "Hamlet",
        "basemap": "Base map",
        "logout": "Log out",
        "role_admin": "admin",
        "role_officer": "officer",
        "role_viewer": "viewer",
    },
}

# collection id -> (minimum zoom to load, drawn at start, style)
_LAYER_RULES: dict[str, tuple[int, bool]] = {
    "provinces": (0, True),
    "districts": (0, False),
    "communes": (7, True),
    "hamlets": (11, True),
    "coverage": (11, True),
    # off at start: where coverage is low (most real hamlets) the gaps would hide the choropleth
    "gaps": (12, False),
    "footprints": (14, True),
    "camera": (8, True),  # clustered: fine zoomed out (a capped page + "zoom in" notice in big areas)
    # the street map of the dataset (context layers): from street zoom; shown at start unless a
    # base-map file draws the streets already
    "roads": (15, True),
    "buildings": (15, True),
}
_CONTEXT_LIMIT = 3000  # context features per view request (more: the "zoom in" notice)
_UNIT_STYLE = {
    "provinces": {"color": "#37474f", "weight": 3, "fill": False},
    "districts": {"color": "#546e7a", "weight": 2.5, "dashArray": "6 4", "fill": False},
    "communes": {"color": "#455a64", "weight": 2, "fill": False},
    "hamlets": {"color": "#78909c", "weight": 1, "fill": False},
}


def _vocab(lang: str) -> dict[str, dict[str, str]]:
    i: Literal[0, 1] = 1 if lang == "en" else 0
    return {
        name: {k: v[i] for k, v in vocab.items()}
        for name, vocab in (("field", FIELDS), ("host", HOSTS), ("status", STATUSES))
    }


def _layers(lang: str) -> list[dict[str, Any]]:
    cat = get_catalog()
    out = []
    for cid, col in cat.collections.items():
        if col.group == "models" and (col.spec is None or not col.spec.spatial):
            continue
        spec = col.spec
        min_zoom, show = _LAYER_RULES.get(cid, (11, True))
        if col.group == "context":
            show = show and get_basemap() is None
        d: dict[str, Any] = {
            "id": cid,
            "group": col.group,
            "title": nfc(col.title(lang)),
            "minZoom": min_zoom,
            "show": show,
            "style": _UNIT_STYLE.get(cid),
        }
        if col.group == "context":
            d["limit"] = _CONTEXT_LIMIT
        if spec is not None:
            d["color"] = spec.color if _COLOR.match(spec.color) else "#555555"
            d["icon"] = spec.icon if _ICON.match(spec.icon) else "circle"
            d["popupFields"] = list(spec.popup_fields)
            d["cluster"] = cid == "camera"
        out.append(d)
    return out


def _build_map(layers: list[dict[str, Any]]) -> tuple[folium.Map, str, list[float]]:
    cat = get_catalog()
    settings = current_app.extensions["geo_antt"].settings
    allowed = scope_codes()
    units = cat.units if allowed is None else cat.units[cat.units.index.isin(list(allowed))]
    ext = units.total_bounds if len(units) else (102.0, 8.0, 117.5, 23.5)
    # maxZoom/minZoom as Leaflet map options (folium's max_zoom only reaches its own tile layer):
    # without tiles the map still needs them (marker clustering, zoom limits).
    m = folium.Map(
        location=[(ext[1] + ext[3]) / 2, (ext[0] + ext[2]) / 2],
        zoom_start=10,
        tiles=None,
        control_scale=True,
        width="100%",
        height="100%",
        maxZoom=19,
        minZoom=5,
    )
    if settings.tile_url:
        folium.TileLayer(
            tiles=settings.tile_url,
            attr=settings.tile_attribution or " ",
            name="Base map",
            max_zoom=19,
            overlay=False,
            control=True,
        ).add_to(m)
    m.fit_bounds([[ext[1], ext[0]], [ext[3], ext[2]]])  # map.js fits again around the panel and controls
    for d in layers:
        if d.get("cluster"):
            grp: folium.MacroElement = MarkerCluster(
                name=d["title"], show=d["show"], options={"disableClusteringAtZoom": 16, "maxClusterRadius": 60}
            )
        else:
            grp = folium.FeatureGroup(name=d["title"], show=d["show"])
        grp.add_to(m)
        d["var"] = grp.get_name()
    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(m)
    return m, control.get_name(), [float(v) for v in ext]


# The folium part of the map page (about 35 ms to render) depends only on the catalog, the
# language and the account's scope: rendered once per catalog (the entries go with it).
_MAP_PARTS: weakref.WeakKeyDictionary[Any, dict[Any, tuple[list[dict[str, Any]], str, dict[str, str]]]] = (
    weakref.WeakKeyDictionary()
)
_MAP_PARTS_LOCK = threading.Lock()


def _map_parts(cat: Any, lang: str) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """The layer list, the folium map's variable name and its rendered header/html/script for
    ``cat``, the language and the current account's scope (memoised per catalog).
    """
    settings = current_app.extensions["geo_antt"].settings
    key = (lang, scope_codes(), settings.tile_url, settings.tile_attribution)
    with _MAP_PARTS_LOCK:
        hit = _MAP_PARTS.get(cat, {}).get(key)
    if hit is not None:
        return hit
    layers = _layers(lang)
    m, control_name, extent = _build_map(layers)
    root = m.get_root()
    assert isinstance(root, folium.Figure)  # a Map always sits in a Figure
    root.render()
    # folium declares the layer control with `let` (no window property): hand it to map.js, after
    # the control's own script (children render in order)
    root.script.add_child(folium.Element(f"window.geoAnttLayerControl = {control_name};"))
    parts: dict[str, Any] = {
        "map_header": root.header.render(),
        "map_html": root.html.render(),
        "map_script": root.script.render(),
    }
    parts["extent"] = extent  # [west, south, east, north] of the units in scope, for map.js's first view
    out = (layers, m.get_name(), parts)
    with _MAP_PARTS_LOCK:
        per_cat = _MAP_PARTS.setdefault(cat, {})
        if len(per_cat) >= 256:
            per_cat.clear()
        per_cat[key] = out
    return out


def render_map():
    """Render the map page for the current request (language from ``?lang=``)."""
    lang = _lang()
    t = STRINGS[lang]
    meta = get_meta()
    cat = get_catalog()
    layers, map_name, map_parts = _map_parts(cat, lang)
    config = {
        "lang": lang,
        "map": map_name,
        "layers": layers,
        "strings": t,
        "vocab": _vocab(lang),
        "kinds": {k: s.title(lang) for k, s in cat.specs.items()},
        "urls": {
            "collections": url_for("api.collections"),
            "search": url_for("api.search"),
            "units": url_for("api.units"),
            "stats": url_for("api.stats"),
            "export": url_for("api.export", name="__NAME__"),
        },
        "exports": [{"id": c.id, "title": nfc(c.title(lang))} for c in cat.collections.values()],
        "hasCoverage": "coverage" in cat.collections,
        # the figures were computed with buildings (visible footprints): the legend says so
        "occluded": "coverage" in cat.collections and "building_m2" in cat.collections["coverage"].frame.columns,
        "extent": map_parts["extent"],
        "coverageClasses": {
            "breaks": list(current_app.extensions["geo_antt"].settings.coverage_classes_pct),
            "colors": list(COVERAGE_COLOURS),
        },
    }
    bm = get_basemap()
    if bm is not None:
        base = bm.info.to_dict()
        base["url"] = (
            url_for("basemap.archive")
            if bm.info.vector
            else url_for("basemap.tile", z="Z", x="X", y="Y").replace("/Z/X/Y", "/{z}/{x}/{y}")
        )
        config["basemap"] = base
    title = nfc((meta.get("title") or {}).get(lang) or t["app_title"])
    note = (meta.get("note") or {}).get(lang)
    other = "en" if lang == "vi" else "vi"
    return render_template(
        "map.html",
        lang=lang,
        t=t,
        title=title,
        note=nfc(note) if note else None,
        approximate=bool(meta.get("approximate")),
        **map_parts,
        config=config,
        other_lang_url=url_for("views.map_page", lang=other),
        vendor_scripts=(BASEMAP_SCRIPTS if bm is not None and bm.info.vector else ())
        + ((TEXTPATH_SCRIPT,) if "roads" in cat.collections else ()),
        user=current_user(),
    )


@bp.get("/map")
def map_page():
    return render_map()
