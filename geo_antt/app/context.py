"""What the blueprints need from the running app, in one small module (flaskr's ``db.py``): the
catalog, the store, the reader's unit scope, the request's language and the dataset's title.

Blueprints import these helpers from here, never from the factory (:mod:`geo_antt.app`), so
that the web modules form no import cycle.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request, session

from .._errors import GeoAnttError
from ..catalog import Catalog
from ..catalog.live import tier_catalog
from ..config import resource_dir
from ..store import Store, User

__all__ = [
    "API_PREFIXES",
    "CATALOG_WAIT_S",
    "CATALOG_WRITE_WAIT_S",
    "LANG_COOKIE",
    "PUBLIC_COLLECTIONS",
    "PUBLIC_ENDPOINTS",
    "WEB_ROOT",
    "current_user",
    "get_catalog",
    "get_tier_catalog",
    "tier_arg",
    "get_meta",
    "get_store",
    "prefers_json",
    "request_lang",
    "scope_codes",
    "store_generation",
    "store_revisions",
]

#: How long a request waits for a catalog update it started, in seconds, before it is served
#: the previous catalog (``CATALOG_WAIT_S`` in the app config overrides it).
CATALOG_WAIT_S = 1.0
#: How long a registry write waits for the map to show it, in seconds (read your writes;
#: ``CATALOG_WRITE_WAIT_S`` in the app config overrides it).
CATALOG_WRITE_WAIT_S = 10.0


def current_user() -> User | None:
    """The account of the current request (session or API token, set by the login guard of
    :mod:`geo_antt.app.auth`), or None.
    """
    return g.get("geo_antt_user")


# templates/ and static/: the checkout's web/, or the copy a wheel installs
WEB_ROOT = resource_dir("web")


# Paths whose errors are JSON (the OGC API, the app's own JSON API, exports).
API_PREFIXES = ("/collections", "/conformance", "/openapi", "/api", "/export")


# What an anonymous user may read when PUBLIC_AGGREGATES is on: figures per unit, unit names and
# boundaries; never models, footprints or gaps (api.items checks the collection).
PUBLIC_ENDPOINTS = ("api.stats", "api.units", "api.search", "api.items", "registry.coverage")


PUBLIC_COLLECTIONS = frozenset({"provinces", "districts", "communes", "hamlets", "coverage"})


def get_catalog() -> Catalog:
    """The catalog of the current app for this request: chosen once per request (the store's
    generation read once, :func:`store_generation`), so that every part of a reply comes from one
    catalog and a request waits for a catalog behind the store at most once, ``wait_s``
    (:meth:`LiveCatalog.current`), however many helpers ask for it.
    """
    if "geo_antt_catalog" not in g:
        g.geo_antt_catalog = current_app.extensions["geo_antt"].live.current(store_generation())
    return g.geo_antt_catalog


def tier_arg() -> str | None:
    """The request's ``tier`` parameter (``detect``, ``observe``, ``recognise``, ``identify``;
    absent: None, the cameras' recorded ranges); another value (an empty one too) is a 400
    naming the tiers.
    """
    value = request.args.get("tier")
    if value is None:
        return None
    specs = current_app.extensions["geo_antt"].specs
    codes = list(dict.fromkeys(t.code for s in specs.values() for t in s.tiers))
    if value not in codes:
        raise GeoAnttError(f"tier: unknown tier {value[:40]!r}; tiers: {', '.join(codes) or 'none declared'}")
    return value


def get_tier_catalog(tier: str | None) -> Catalog:
    """The current catalog (``tier`` None), or its version with the cameras ranged for ``tier``
    (built on first use, :func:`geo_antt.catalog.live.tier_catalog`).
    """
    cat = get_catalog()
    if tier is None:
        return cat
    return tier_catalog(cat, tier, settings=current_app.extensions["geo_antt"].settings)


def get_store() -> Store:
    """The store of the current app."""
    return current_app.extensions["geo_antt"].store


def scope_codes() -> frozenset[str] | None:
    """The unit codes the current user may read (its units and their descendants), None for all
    (admin; and the anonymous reader of public aggregates, whose endpoints serve figures only).

    Raises
    ------
    PermissionDeniedError
        Never for a logged-in user; anonymous users outside the public aggregate mode never
        reach a view (the login guard answers 401/302 first).
    """
    user = current_user()
    if user is None:
        if not current_app.config.get("PUBLIC_AGGREGATES"):
            from .._errors import PermissionDeniedError

            raise PermissionDeniedError("not logged in")
        return None
    if "geo_antt_scope" in g:
        return g.geo_antt_scope
    if not user.active or user.is_admin:
        scope = get_store().scope_codes(user)  # None for an admin; a disabled account raises
    else:
        # the closure of the account's units, computed once per generation of the store (a unit
        # change moves it too); the account (frozen: its role and units) is part of the key
        scope = current_app.extensions["geo_antt"].scope_memo(user, store_generation())
    g.geo_antt_scope = scope
    return scope


LANG_COOKIE = "geo_antt_lang"


def request_lang() -> str:
    """The language of the current request, ``"vi"`` or ``"en"``: ``?lang=`` (or a form's
    ``lang``) when given, else the language chosen earlier (a cookie set whenever ``?lang=`` is
    given, or the one chosen at login), else Vietnamese.
    """
    # the login form posts its language; no other body is read for it (an anonymous request's
    # body is never parsed: the login guard answers first)
    posted = request.form.get("lang") if request.method == "POST" and request.endpoint == "auth.login" else None
    for lang in (request.args.get("lang"), posted, request.cookies.get(LANG_COOKIE), session.get("lang")):
        if lang in ("vi", "en"):
            return lang
    return "vi"


def store_generation() -> int:
    """The store's generation (:meth:`Store.generation`), read once per request."""
    if "geo_antt_generation" not in g:
        g.geo_antt_generation = get_store().generation()
    return g.geo_antt_generation


def store_revisions(store: Store | None = None) -> tuple[int, int]:
    """The store's generation and access revision (:meth:`Store.revisions`), read together once
    per request (the login guard reads them first, so the generation costs no second query).
    ``store``: the app's store (default :func:`get_store`).
    """
    if "geo_antt_access_revision" not in g:
        generation, access = (store or get_store()).revisions()
        g.geo_antt_access_revision = access
        if "geo_antt_generation" not in g:
            g.geo_antt_generation = generation
    return g.geo_antt_generation, g.geo_antt_access_revision


def get_meta() -> dict[str, Any]:
    """The dataset's ``dataset.toml`` contents (title, note, approximate...)."""
    return current_app.extensions["geo_antt"].meta


def prefers_json() -> bool:
    """JSON, unless the client asks for HTML: ``?f=html``, or an Accept header that names
    ``text/html`` and ranks it above JSON (as browsers send). ``Accept: */*`` (curl, httpx, most
    scripts and GIS clients) or none gets JSON, as pygeoapi decides; ``?f=json`` always JSON.
    """
    if request.path.startswith(API_PREFIXES):
        return True
    f = request.args.get("f")
    if f in ("json", "html"):
        return f == "json"
    accept = request.accept_mimetypes
    html_q = max((q for m, q in accept if m.lower() in ("text/html", "application/xhtml+xml")), default=0)
    json_q = max((q for m, q in accept if m.lower() in ("application/json", "application/geo+json")), default=0)
    return not (html_q > 0 and html_q >= json_q)
