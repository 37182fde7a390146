"""Air-gapped web assets: point folium's JS/CSS lists at the copies the app serves itself.

folium renders ``<script src=...>``/``<link href=...>`` tags from the class attributes
``default_js``/``default_css`` of its elements, which name public CDNs. The intranet map must
load nothing from outside the machine, so :func:`use_local_assets` replaces those lists, once and
for every map the process renders, by URLs under the app's ``/static/vendor/`` folder, which
``scripts/vendor.sh`` fills from the npm packages pinned in ``web/package.json``.

Only the assets the map page uses are kept: Leaflet, Leaflet.markercluster and Font Awesome
(the model icons); protomaps-leaflet and its @protomaps/basemaps flavours are loaded by the map
page itself, only when a PMTiles base map is configured (:data:`BASEMAP_SCRIPTS`), and
leaflet-textpath only when the dataset has roads (:data:`TEXTPATH_SCRIPT`). folium's jQuery, Bootstrap, glyphicons and awesome-markers are dropped: the
page does not use them.
"""

from __future__ import annotations

from pathlib import Path

from ..config import resource_dir

__all__ = [
    "VENDOR_FILES",
    "VENDOR_DIR",
    "BASEMAP_SCRIPTS",
    "TEXTPATH_SCRIPT",
    "use_local_assets",
    "missing_vendor_files",
]

VENDOR_DIR = resource_dir("web") / "static" / "vendor"

# (kind, name, path under the vendor folder); the names are folium's, so that elements which
# add the same asset (e.g. Leaflet) collapse into one tag.
VENDOR_FILES: tuple[tuple[str, str, str], ...] = (
    ("js", "leaflet", "leaflet/leaflet.js"),
    ("css", "leaflet_css", "leaflet/leaflet.css"),
    ("css", "awesome_markers_font_css", "fontawesome/css/all.min.css"),
    ("js", "markerclusterjs", "leaflet.markercluster/leaflet.markercluster.js"),
    ("css", "markerclustercss", "leaflet.markercluster/MarkerCluster.css"),
    ("css", "markerclusterdefaultcss", "leaflet.markercluster/MarkerCluster.Default.css"),
    # not folium's: the vector (PMTiles) base map, drawn in the browser
    ("js", "protomaps_basemaps", "protomaps-basemaps/basemaps.js"),
    ("js", "protomaps_leaflet", "protomaps-leaflet/protomaps-leaflet.js"),
    # not folium's: street names along the roads of the dataset (the context layers)
    ("js", "leaflet_textpath", "leaflet-textpath/leaflet.textpath.js"),
)

# Paths under the vendor folder of the scripts a vector base map needs, in load order.
BASEMAP_SCRIPTS: tuple[str, ...] = tuple(p for k, n, p in VENDOR_FILES if n.startswith("protomaps_"))
# Path under the vendor folder of the script that writes street names along the roads.
TEXTPATH_SCRIPT = "leaflet-textpath/leaflet.textpath.js"

_done_prefix: str | None = None


def _links(kind: str, names: tuple[str, ...], prefix: str) -> list[tuple[str, str]]:
    return [(n, f"{prefix}/{p}") for k, n, p in VENDOR_FILES if k == kind and n in names]


def use_local_assets(*, url_prefix: str = "/static/vendor") -> None:
    """Make every folium map of this process load its JS/CSS from ``url_prefix``.

    Idempotent: the first call sets the lists, later calls with the same prefix do nothing.

    Parameters
    ----------
    url_prefix
        URL path where the vendor folder is served (no trailing slash).

    Raises
    ------
    ValueError
        When called again with another prefix (the lists are global to the process).
    """
    global _done_prefix
    prefix = url_prefix.rstrip("/")
    if _done_prefix is not None:
        if _done_prefix != prefix:
            msg = f"folium assets already point to {_done_prefix!r}; cannot switch to {prefix!r}"
            raise ValueError(msg)
        return
    import folium
    import folium.folium
    from folium.plugins import MarkerCluster

    map_js = _links("js", ("leaflet",), prefix)
    map_css = _links("css", ("leaflet_css", "awesome_markers_font_css"), prefix)
    # Module lists too: code that reads folium.folium._default_js sees the local URLs.
    folium.folium._default_js[:] = map_js
    folium.folium._default_css[:] = map_css
    folium.Map.default_js = list(map_js)
    folium.Map.default_css = list(map_css)
    MarkerCluster.default_js = _links("js", ("markerclusterjs",), prefix)
    MarkerCluster.default_css = _links("css", ("markerclustercss", "markerclusterdefaultcss"), prefix)
    _done_prefix = prefix


def missing_vendor_files(vendor_dir: Path | None = None) -> list[str]:
    """Return the vendor files (relative paths) absent from ``vendor_dir`` (default: the
    project's ``web/static/vendor``); empty when ``scripts/vendor.sh`` has run.
    """
    base = Path(vendor_dir) if vendor_dir is not None else VENDOR_DIR
    return [p for _, _, p in VENDOR_FILES if not (base / p).is_file()]
