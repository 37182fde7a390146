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
from ..i18n import N_, strings_table
from ..schema import FIELDS, HOSTS, LENSES, STATUSES
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

STRINGS: dict[str, dict[str, str]] = strings_table(
    "maps",
    {
        "app_title": N_("maps", "Community security models map"),
        "panel": N_("maps", "Control panel"),
        "search": N_("maps", "Find a hamlet, commune, province"),
        "search_placeholder": N_("maps", "Name or code, e.g. huong my, 28951"),
        "no_results": N_("maps", "Nothing found"),
        "area": N_("maps", "Territory"),
        "all_areas": N_("maps", "Everything"),
        "choose": N_("maps", "— choose —"),
        "figures": N_("maps", "Figures for the review conference"),
        "models_total": N_("maps", "Models in all"),
        "by_kind": N_("maps", "By kind"),
        "by_field": N_("maps", "By field"),
        "by_host": N_("maps", "By host"),
        "by_status": N_("maps", "By status"),
        "coverage": N_("maps", "Share of area covered"),
        "coverage_street": N_("maps", "Share of street length covered"),
        "coverage_area": N_("maps", "Share of area covered (for comparison)"),
        "road_covered_pct": N_("maps", "Street length covered"),
        "road_m": N_("maps", "Street length"),
        "hamlets": N_("maps", "Hamlets"),
        "least_covered": N_("maps", "Least-covered hamlets"),
        "downloads": N_("maps", "Download the area's layers"),
        "legend": N_("maps", "Covered (%)"),
        "covered_pct": N_("maps", "Covered"),
        "area_m2": N_("maps", "Area"),
        "covered_m2": N_("maps", "Covered area"),
        "rank": N_("maps", "Rank (least covered = 1)"),
        "count": N_("maps", "Count"),
        "zoom_in": N_("maps", "Zoom in to see all"),
        "loading": N_("maps", "Loading…"),
        "no_coverage": N_("maps", "No coverage figures"),
        "approximate": N_("maps", "Approximate boundaries (demonstration data)"),
        "about_data": N_("maps", "About the data"),
        "yes": N_("maps", "Yes"),
        "no": N_("maps", "No"),
        "language": N_("maps", "Tiếng Việt"),
        "panel_toggle": N_("maps", "Panel"),
        "name": N_("maps", "Name"),
        "status": N_("maps", "Status"),
        "camera_type": N_("maps", "Camera type"),
        "direction_deg": N_("maps", "Direction (degrees)"),
        "fov_deg": N_("maps", "Field of view (degrees)"),
        "range_m": N_("maps", "Range (m)"),
        "radius_m": N_("maps", "Radius (m)"),
        "owner": N_("maps", "Owner"),
        "data_sharing": N_("maps", "Data sharing"),
        "host": N_("maps", "Host"),
        "field": N_("maps", "Field"),
        "start_date": N_("maps", "Start date"),
        "code": N_("maps", "Code"),
        "level": N_("maps", "Level"),
        "kind": N_("maps", "Kind"),
        "unit_code": N_("maps", "Unit"),
        "province": N_("maps", "Province"),
        "district": N_("maps", "District"),
        "commune": N_("maps", "Commune"),
        "hamlet": N_("maps", "Hamlet"),
        "basemap": N_("maps", "Base map"),
        "logout": N_("maps", "Log out"),
        "role_admin": N_("maps", "admin"),
        "role_officer": N_("maps", "officer"),
        "role_viewer": N_("maps", "viewer"),
        "resolution_px": N_("maps", "Resolution (horizontal pixels)"),
        "lens": N_("maps", "Lens"),
        "tier_ranges": N_("maps", "Range by purpose (IEC 62676-4)"),
        "tier": N_("maps", "What the cameras are for"),
        "tier_recorded": N_("maps", "Recorded range"),
        "tier_unknown": N_("maps", "Cameras of unknown resolution (recorded range kept)"),
        "tier_help": N_("maps", "Coverage, gaps and footprints at the range each camera's resolution allows"),
        "legend_covered": N_("maps", "Covered: in a camera's field of view or a light's reach"),
        "legend_occluded": N_(
            "maps", "Covered: what cameras see and lights reach, not through buildings; inside buildings never counts"
        ),
    },
)

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
        for name, vocab in (("field", FIELDS), ("host", HOSTS), ("status", STATUSES), ("lens", LENSES))
    }


def _tiers(specs: Any, lang: str) -> dict[str, Any]:
    """The tier table and, per kind with tiers, what its ranges need: the default fov (degrees)
    and the largest range (metres, ``bounds.range_m``), for the switch, popups and editor.
    """
    codes: dict[str, dict[str, Any]] = {}
    kinds: dict[str, dict[str, Any]] = {}
    for kind, spec in specs.items():
        if not spec.tiers:
            continue
        kinds[kind] = {
            "fov_deg": spec.defaults.get("fov_deg", 360.0),
            "max_range_m": spec.bounds["range_m"][1],
            "px_per_m": {t.code: t.px_per_m for t in spec.tiers},
        }
        for t in spec.tiers:
            codes.setdefault(t.code, {"code": t.code, "title": nfc(t.title(lang)), "px_per_m": t.px_per_m})
    return {"list": list(codes.values()), "kinds": kinds}


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
        "tiers": _tiers(cat.specs, lang),
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
