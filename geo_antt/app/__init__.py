"""The Flask application factory of the geo-antt map service.

``create_app(test_config=None)`` follows the Flask tutorial (flaskr): defaults from a mapping,
then the instance folder's ``config.py`` (silently absent), then ``test_config``.

The system of record is the :class:`geo_antt.store.Store` (``DB``: config, else env
``GEO_ANTT_DB``, else ``<DATA_DIR>/geo-antt.sqlite``; ``DATA_DIR``: config, else env
``GEO_ANTT_DATA``, else ``Settings.data_dir``). An empty store is seeded from the dataset folder
on first run (:func:`geo_antt.store.seed_from_dataset`, as ``geo-antt db seed``). The units and
models of the store, with their coverage, are kept in a :class:`geo_antt.catalog.Catalog` that
the blueprints query (:func:`get_catalog`); when the store's change counter
(:meth:`Store.generation`) moves - an edit through ``/api/registry``, an import from the command
line - the catalog is rebuilt on the next request.

Accounts (:func:`geo_antt.app.auth.init_auth`) and the edit API (:func:`geo_antt.app.registry.init_registry`)
are wired here: anonymous users get only ``/login`` and static files, unless ``PUBLIC_AGGREGATES``
is true, then they may also read aggregate figures (``/api/stats``, ``/api/units``,
``/api/search``, ``/api/registry/coverage``, the ``coverage`` and boundary collections) - never
camera positions, footprints or model collections. Every read is limited to the unit scope of
the account (:func:`scope_codes`). One error handler turns every :class:`GeoAnttError` into JSON
``{"error", "message"}`` with its ``http_status``; Werkzeug errors on API paths become JSON too.

Sessions survive a restart: without ``SECRET_KEY`` in the config (or env ``GEO_ANTT_SECRET_KEY``)
a random key is made once and kept in the instance folder (``instance/secret_key``, mode 0600;
env ``GEO_ANTT_INSTANCE`` moves the folder), so every server process of one deployment signs
sessions alike. Tests (``test_config``) get an in-memory key unless they give one.

Config keys: ``DATA_DIR``, ``DB``, ``PUBLIC_AGGREGATES``, ``TILE_URL``, ``TILE_ATTRIBUTION``,
``BASEMAP`` (an MBTiles or PMTiles file served by the app itself, :mod:`geo_antt.app.basemap`;
default env ``GEO_ANTT_BASEMAP``),
``LAYERS_DIR``, ``SETTINGS`` (a :class:`geo_antt.config.Settings`), the keys of
:func:`geo_antt.app.auth.init_auth`, and for tests or embedding ``STORE`` (an open store, not closed
by the app), ``DATASET`` (an object with ``units``, ``models``, ``meta``: served instead of the
store's frames, never reloaded) and ``COVERAGE`` (a coverage result with ``units``, ``gaps``,
``footprints``: used until the store first changes).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .._errors import GeoAnttError
from ..catalog import context_layers
from ..catalog.live import LiveCatalog
from ..config import DEFAULT_SETTINGS
from ..layers import load_layer_specs
from ..store import Store, resolve_db_url, seed_from_dataset
from . import auth, basemap, edit, maps, ogcapi, pages, planning, registry
from . import context as _app_context
from .assets import use_local_assets
from .context import (
    API_PREFIXES,
    LANG_COOKIE,
    PUBLIC_COLLECTIONS,
    PUBLIC_ENDPOINTS,
    WEB_ROOT,
    get_catalog,
    get_meta,
    get_store,
    prefers_json,
    request_lang,
    scope_codes,
    store_generation,
)
from .server import run_server

__all__ = [
    "create_app",
    "run_server",
    "get_catalog",
    "get_meta",
    "get_store",
    "scope_codes",
    "store_generation",
    "request_lang",
    "ensure_admin_account",
    "persistent_secret_key",
    "PUBLIC_ENDPOINTS",
    "PUBLIC_COLLECTIONS",
    "API_PREFIXES",
    "WEB_ROOT",
]

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
        instance_path=os.environ.get("GEO_ANTT_INSTANCE") or None,
        instance_relative_config=True,
        template_folder=str(WEB_ROOT / "templates"),
        static_folder=str(WEB_ROOT / "static"),
    )
    app.config.from_mapping(
        DATA_DIR=os.environ.get("GEO_ANTT_DATA") or DEFAULT_SETTINGS.data_dir,
        TILE_URL=DEFAULT_SETTINGS.tile_url,
        TILE_ATTRIBUTION=DEFAULT_SETTINGS.tile_attribution,
        LAYERS_DIR=DEFAULT_SETTINGS.layers_dir,
        BASEMAP=os.environ.get("GEO_ANTT_BASEMAP") or None,
        JSON_SORT_KEYS=False,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    if overrides:
        app.config.from_mapping(overrides)
    if not app.config.get("SECRET_KEY"):
        if os.environ.get("GEO_ANTT_SECRET_KEY"):
            app.config["SECRET_KEY"] = os.environ["GEO_ANTT_SECRET_KEY"]
        elif test_config is None:
            app.config["SECRET_KEY"] = persistent_secret_key(Path(app.instance_path) / "secret_key")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's; Flask types app.json as the base JSONProvider
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # DefaultJSONProvider's; Flask types app.json as the base JSONProvider

    settings = app.config.get("SETTINGS") or DEFAULT_SETTINGS
    settings = settings.replace(
        data_dir=str(app.config["DATA_DIR"]),
        tile_url=app.config.get("TILE_URL") or None,
        tile_attribution=app.config.get("TILE_ATTRIBUTION") or "",
        layers_dir=app.config.get("LAYERS_DIR") or settings.layers_dir,
    )
    app.config["SETTINGS"] = settings

    use_local_assets(url_prefix="/static/vendor")
    basemap.init_basemap(app, app.config.get("BASEMAP") or None)
    specs = load_layer_specs(settings.layers_dir)
    store = app.config.get("STORE")
    owned = store is None
    if store is None:
        _check_first_run(app.config.get("DB") or None, Path(settings.data_dir))
        store = Store.open(app.config.get("DB") or None, data_dir=settings.data_dir, layers_dir=settings.layers_dir)
    try:
        dataset = app.config.get("DATASET")
        meta: dict[str, Any] = dict(getattr(dataset, "meta", {}) or {})
        if dataset is None:
            meta = _seed_if_empty(store, Path(settings.data_dir))
        # roads and buildings of dataset.toml (or of the DATASET object): the street map under
        # the layers, from street zoom
        context = context_layers(settings.data_dir, dataset=dataset)
        live = LiveCatalog(
            store,
            specs=specs,
            settings=settings,
            dataset=dataset,
            coverage=app.config.get("COVERAGE"),
            wait_s=float(app.config.get("CATALOG_WAIT_S", _app_context.CATALOG_WAIT_S)),
            context=context,
        )
    except BaseException:
        if owned:
            store.close()
        raise
    scope_memo = functools.lru_cache(maxsize=256)(lambda user, generation: store.scope_codes(user))
    app.extensions["geo_antt"] = SimpleNamespace(
        live=live, store=store, meta=meta, settings=settings, specs=specs, scope_memo=scope_memo
    )

    _register_errors(app)
    _register_security_headers(app, tile_url=settings.tile_url)
    app.after_request(_remember_lang)
    auth.init_auth(app, store)
    registry.init_registry(app, store)
    app.register_blueprint(ogcapi.bp)
    app.register_blueprint(maps.bp)
    if app.config.get("PUBLIC_AGGREGATES"):
        for endpoint in PUBLIC_ENDPOINTS:
            app.view_functions[endpoint] = _public_copy(app.view_functions[endpoint])

    app.register_blueprint(planning.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(edit.bp)
    return app


def _remember_lang(resp: Any) -> Any:
    """Keep a language chosen with ``?lang=`` for the next pages (one year)."""
    lang = request.args.get("lang")
    if lang in ("vi", "en") and request.cookies.get(LANG_COOKIE) != lang:
        resp.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
        )
    return resp


def ensure_admin_account(store: Store, *, name: str = "admin") -> str | None:
    """On a store without any account, create the admin account ``name`` with a random password.

    Returns
    -------
    str or None
        The password (to show once), or None when the store has accounts already.
    """
    if store.list_users():
        return None
    password = secrets.token_urlsafe(12)
    store.add_user(name, role="admin", password=password, user=None)
    return password


def persistent_secret_key(path: Path) -> str:
    """The session-signing key kept in ``path``, created (random, 256 bits, mode 0600) on first
    use. Creation is atomic and exclusive, so two processes starting at once share one key.

    Raises
    ------
    GeoAnttError
        When the file exists but is empty or unreadable, or its folder cannot be created.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # written whole under a temporary name, then linked: the key file appears complete
            # or not at all, and of two processes racing, the second link fails and both read
            # the first one's key
            fd, tmp = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as fh:
                    fh.write(secrets.token_hex(32) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp)
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise GeoAnttError(
            f"{path}: cannot read or create the session key ({exc}); "
            "set SECRET_KEY in instance/config.py or env GEO_ANTT_SECRET_KEY"
        ) from exc
    if len(key) < 32:
        raise GeoAnttError(
            f"{path}: the session key is empty or shorter than 32 characters; "
            "delete the file to make a new one (everyone is logged out)"
        )
    return key


def _register_errors(app: Flask) -> None:
    @app.errorhandler(GeoAnttError)
    def _geo_antt_error(exc: GeoAnttError):
        return auth.error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not prefers_json():
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
    any request that would leave the intranet; ``nosniff`` everywhere.
    """
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


def _public_copy(view):
    """The view, marked open to anonymous users (a wrapper: the function itself is shared by
    every app made in this process).
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    wrapped._geo_antt_public = True  # type: ignore[attr-defined]
    return wrapped


# -- store, dataset and coverage --------------------------------------------------------------


def _check_first_run(url: str | None, data_dir: Path) -> None:
    """A clear error, before any file is created, when the default SQLite store does not exist
    yet and there is no dataset folder to seed it from.
    """
    resolved = resolve_db_url(url, data_dir=data_dir)
    if not resolved.startswith("sqlite:///"):
        return
    db_file = Path(resolved[len("sqlite:///") :])
    if not db_file.exists() and not (data_dir / "dataset.toml").is_file():
        raise GeoAnttError(
            f"{data_dir / 'dataset.toml'}: no dataset.toml to seed a new store {db_file} from "
            "(give --data DIR of a dataset folder, or --db URL of an existing store)"
        )


def _seed_if_empty(store: Store, data_dir: Path) -> dict[str, Any]:
    """Seed an empty store from ``data_dir`` (first run); return the dataset's title and note
    (``dataset.toml``; empty when the folder has none and the store is not empty).
    """
    toml = data_dir / "dataset.toml"
    if store.is_empty():
        _log.info("empty store %s: seeding it from %s", store.url, data_dir)
        seed_from_dataset(store, data_dir, echo=_log.info)
    if not toml.is_file():
        return {}
    import tomllib

    try:
        with toml.open("rb") as fh:
            meta = tomllib.load(fh)
    except tomllib.TOMLDecodeError:
        return {}
    return {k: meta[k] for k in ("title", "note", "approximate") if k in meta}
