"""The Flask application factory of the geo-antt map service.

``create_app(test_config=None)`` follows the Flask tutorial (flaskr): defaults from a mapping,
then the instance folder's ``config.py`` (silently absent), then ``test_config``. The dataset is
read once (``DATA_DIR``: config, else env ``GEO_ANTT_DATA``, else ``Settings.data_dir``), the
coverage computed once, and both kept in a :class:`geo_antt.catalog.Catalog` that the blueprints
query (:func:`get_catalog`). One error handler turns every :class:`GeoAnttError` into JSON
``{"error", "message"}`` with its ``http_status``; Werkzeug errors on API paths become JSON too.

Config keys: ``DATA_DIR``, ``TILE_URL``, ``TILE_ATTRIBUTION``, ``LAYERS_DIR``, ``SETTINGS`` (a
:class:`geo_antt.config.Settings`), and for tests or embedding ``DATASET`` (an object with
``units``, ``models``, ``meta``) and ``COVERAGE`` (a coverage result with ``units``, ``gaps``,
``footprints``) to skip reading / computing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Mapping
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ._assets import use_local_assets
from ._errors import GeoAnttError
from .catalog import Catalog
from .config import DEFAULT_SETTINGS, Settings
from .coverage import compute_coverage
from .dataset import load_dataset
from .layers import load_layer_specs

__all__ = ["create_app", "get_catalog", "get_meta", "API_PREFIXES", "WEB_ROOT"]

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
# Paths whose errors are JSON (the OGC API, the app's own JSON API, exports).
API_PREFIXES = ("/collections", "/conformance", "/openapi", "/api", "/export")
_log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None, *, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Create the geo-antt web application.

    Parameters
    ----------
    test_config
        Config mapping used instead of the instance folder's ``config.py`` (tests); may carry
        ``DATASET``/``COVERAGE`` objects.
    overrides
        Config applied after the instance config (command-line options of ``geo-antt serve``).

    Returns
    -------
    flask.Flask
        The app, with its catalog loaded.

    Raises
    ------
    GeoAnttError
        When the dataset cannot be read (missing directory, bad ``dataset.toml``...).
    """
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(WEB_ROOT / "templates"),
        static_folder=str(WEB_ROOT / "static"),
    )
    app.config.from_mapping(
        DATA_DIR=os.environ.get("GEO_ANTT_DATA") or DEFAULT_SETTINGS.data_dir,
        TILE_URL=DEFAULT_SETTINGS.tile_url,
        TILE_ATTRIBUTION=DEFAULT_SETTINGS.tile_attribution,
        LAYERS_DIR=DEFAULT_SETTINGS.layers_dir,
        JSON_SORT_KEYS=False,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    if overrides:
        app.config.from_mapping(overrides)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    settings = app.config.get("SETTINGS") or DEFAULT_SETTINGS
    settings = settings.replace(
        data_dir=str(app.config["DATA_DIR"]),
        tile_url=app.config.get("TILE_URL") or None,
        tile_attribution=app.config.get("TILE_ATTRIBUTION") or "",
        layers_dir=app.config.get("LAYERS_DIR") or settings.layers_dir,
    )
    app.config["SETTINGS"] = settings

    use_local_assets(url_prefix="/static/vendor")
    specs = load_layer_specs(settings.layers_dir)
    dataset = app.config.get("DATASET") or load_dataset(Path(settings.data_dir))
    coverage = app.config.get("COVERAGE")
    if coverage is None:
        coverage = _compute_coverage(dataset, specs=specs, settings=settings)
    catalog = Catalog(dataset.units, dataset.models, specs=specs, coverage=coverage)
    app.extensions["geo_antt"] = SimpleNamespace(catalog=catalog, meta=dict(getattr(dataset, "meta", {}) or {}),
                                                 settings=settings, specs=specs)

    _register_errors(app)
    _register_security_headers(app, tile_url=settings.tile_url)
    from . import api, views

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    from . import planning_views

    app.register_blueprint(planning_views.bp)
    return app


def get_catalog() -> Catalog:
    """The catalog of the current app."""
    return current_app.extensions["geo_antt"].catalog


def get_meta() -> dict[str, Any]:
    """The dataset's ``dataset.toml`` contents (title, note, approximate...)."""
    return current_app.extensions["geo_antt"].meta


def _wants_json() -> bool:
    if request.path.startswith(API_PREFIXES):
        return True
    if request.args.get("f") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _register_errors(app: Flask) -> None:
    @app.errorhandler(GeoAnttError)
    def _geo_antt_error(exc: GeoAnttError):
        return jsonify(exc.to_dict()), exc.http_status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _wants_json():
            return exc
        body = {"error": type(exc).__name__, "message": exc.description}
        return jsonify(body), exc.code or 500


def _tile_origin(tile_url: str | None) -> str | None:
    """``scheme://host[:port]`` of a tile URL template (``{s}`` subdomains become ``*``)."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url.replace("{s}", "sub"))
    if not parts.scheme or not parts.netloc:
        return None  # a relative URL: served by this app ('self')
    host = parts.netloc.replace("sub.", "*.", 1) if "{s}." in tile_url else parts.netloc
    return f"{parts.scheme}://{host}"


def _register_security_headers(app: Flask, *, tile_url: str | None) -> None:
    """A Content-Security-Policy on the HTML pages: scripts, styles, fonts and data only from
    this server (images also from the configured tile server), so the browser itself refuses
    any request that would leave the intranet; ``nosniff`` everywhere."""
    origin = _tile_origin(tile_url)
    img = "'self' data: blob:" + (f" {origin}" if origin else "")
    csp = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
    )

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Content-Security-Policy", csp)
        return resp


# -- dataset and coverage ---------------------------------------------------------------------


def _compute_coverage(dataset, *, specs, settings: Settings):
    return compute_coverage(dataset.units, dataset.models, specs=specs, settings=settings)
