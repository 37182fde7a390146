"""Accounts on the web: login/logout, sessions, CSRF, login rate limiting, API tokens and scope.

Wire it into an app with :func:`init_auth` (the app factory calls it once)::

    from geo_antt.app.auth import init_auth
    init_auth(app, store)

What it sets up:

* the ``auth`` blueprint: ``GET/POST /login`` (Vietnamese; ``?lang=en`` for English) and
  ``POST /logout``;
* session cookies ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when ``GEO_ANTT_SECURE_COOKIES`` is
  true (set it behind HTTPS); each session is also kept on the server (its id in the signed
  cookie, :meth:`~geo_antt.store.Store.start_session`) and checked on every request, so logout,
  a password change, disabling an account or changing its role or units end sessions at once;
* CSRF protection (Flask-WTF) of every POST/PUT/PATCH/DELETE made with the session cookie: forms
  carry ``{{ csrf_token() }}``, scripts send the ``X-CSRFToken`` header; requests authenticated by
  an API token (``Authorization: Bearer gat_...``) carry no cookie and need no CSRF token;
* login rate limiting (Flask-Limiter, in memory) of *failed* logins: ``GEO_ANTT_LOGIN_RATE``
  (default ``5 per minute``) per client address and account name, and 30 per minute per
  address. A throttled client gets ``429`` (even with the right password) until the window
  passes; other clients still log in to that account (throttling, not a lockout anyone can
  trigger), and successful logins never count;
* a guard before every request: the token or session is looked up in the store (remembered
  for ``GEO_ANTT_AUTH_CACHE_S`` seconds, and only while :meth:`~geo_antt.store.Store.revisions`
  stays put: every logout, revocation or account change moves it, so access ends at once);
  anonymous users get a redirect to ``/login`` (pages) or
  ``401`` JSON (``/api/...``, JSON requests, token requests) for everything but the login page,
  static files and views marked :func:`public`;
* :class:`~geo_antt.PermissionDeniedError` rendered as ``403`` (JSON for the API).

In views: :func:`current_user`, :func:`login_required`, :func:`require_role`,
:func:`check_scope`; pass ``user=current_user()`` to every :class:`~geo_antt.store.Store` call.
"""

from __future__ import annotations

import collections
import datetime as _dt
import functools
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import TooManyRequests

from .._errors import BusyError, GeoAnttError, PermissionDeniedError
from ..i18n import N_, strings_table
from ..store import Store, User
from ..text import fold
from .context import WEB_ROOT, current_user, store_revisions
from .context import request_lang as _lang

__all__ = [
    "bp",
    "init_auth",
    "current_user",
    "login_required",
    "require_role",
    "check_scope",
    "public",
    "wants_json",
    "MESSAGES",
    "DEFAULT_API_PREFIXES",
    "error_response",
]

bp = Blueprint("auth", __name__, template_folder=str(WEB_ROOT / "templates"))

_EXT = "geo_antt_auth"
_SESSION_USER = "geo_antt_user"
_SESSION_STAMP = "geo_antt_stamp"
_SESSION_ID = "geo_antt_sid"  # the server-side session (Store.start_session): logout ends it
F = TypeVar("F", bound=Callable[..., Any])

MESSAGES = strings_table(
    "auth",
    {
        "title": N_("auth", "Log in"),
        "app": N_("auth", "Community security models map"),
        "name": N_("auth", "User name"),
        "password": N_("auth", "Password"),
        "submit": N_("auth", "Log in"),
        "bad_login": N_("auth", "Wrong user name or password."),
        "too_many": N_("auth", "Too many failed logins. Please try again in a minute."),
        "busy": N_(
            "auth",
            "The registry is busy with another write (an import, for example). Please try again in a few seconds.",
        ),
        "login_required": N_("auth", "Please log in."),
        "forbidden": N_("auth", "You may not see this."),
        "other_lang": N_("auth", "Tiếng Việt"),
        "other_lang_code": N_("auth", "vi"),
    },
)


# How long the login guard trusts a token/session lookup (seconds; config GEO_ANTT_AUTH_CACHE_S,
# 0 = look up every request) and how many it keeps. A lookup is also forgotten as soon as the
# store's generation or access revision moves (Store.revisions: logout, revocation, a password,
# role, unit or state change, in any process), so ending access is still immediate.
DEFAULT_AUTH_CACHE_S = 10.0
_AUTH_CACHE_SIZE = 4096


@dataclass
class _LookupCache:
    """Token/session -> account lookups of the login guard, keyed by the SHA-256 of the secret
    and valid for one ``(generation, access revision)`` of the store and ``ttl_s`` seconds.
    """

    ttl_s: float
    _entries: collections.OrderedDict[str, tuple[User, tuple[int, int], float]] = field(
        default_factory=collections.OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(
        self,
        store: Store,
        kind: str,
        secret: str,
        find: Callable[[str], User | None],
        on_hit: Callable[[str], Any] | None = None,
    ) -> User | None:
        """The account for ``secret`` (``find(secret)`` on a miss; None results are not kept;
        ``on_hit(secret)`` on a hit: a token's use is still recorded).
        """
        if self.ttl_s <= 0:
            return find(secret)
        revisions = store_revisions(store)
        key = kind + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[1] == revisions and now - hit[2] < self.ttl_s:
                self._entries.move_to_end(key)
                user = hit[0]
            else:
                user = None
        if user is not None:
            if on_hit is not None:
                on_hit(secret)
            return user
        user = find(secret)
        with self._lock:
            if user is None:
                self._entries.pop(key, None)
            else:
                self._entries[key] = (user, revisions, now)
                self._entries.move_to_end(key)
                while len(self._entries) > _AUTH_CACHE_SIZE:
                    self._entries.popitem(last=False)
        return user


@dataclass(frozen=True)
class _AuthState:
    store: Store
    csrf: CSRFProtect
    limiter: Limiter
    require_login: bool
    lookups: _LookupCache


def _state() -> _AuthState:
    try:
        return current_app.extensions[_EXT]
    except KeyError:
        raise RuntimeError("geo_antt.app.auth.init_auth(app, store) has not been called for this app") from None


# Paths answered with JSON (401 instead of a redirect to the login page): the JSON API and the
# OGC-API-Features-style endpoints; config GEO_ANTT_API_PREFIXES overrides.
DEFAULT_API_PREFIXES = ("/api/", "/collections", "/conformance", "/openapi", "/export/")


def wants_json() -> bool:
    """True for API requests: API paths (``GEO_ANTT_API_PREFIXES``), ``?f=json``, JSON bodies,
    token auth, or JSON preferred by the Accept header.
    """
    prefixes = tuple(current_app.config.get("GEO_ANTT_API_PREFIXES") or DEFAULT_API_PREFIXES)
    if request.path.startswith(prefixes) or request.is_json or request.args.get("f") == "json":
        return True
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(exc: GeoAnttError) -> Any:
    """The JSON response for ``exc`` (status ``exc.http_status``); a :class:`~geo_antt.BusyError`
    (the database is held by another writer) answers ``503`` with ``Retry-After``.
    """
    resp = jsonify(exc.to_dict())
    resp.status_code = exc.http_status
    if isinstance(exc, BusyError):
        resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


def public(view: F) -> F:
    """Mark a view as open to anonymous users (e.g. the public aggregate page)."""
    view._geo_antt_public = True  # type: ignore[attr-defined]
    return view


def _unauthorized() -> Any:
    msg = MESSAGES[_lang()]["login_required"]
    if wants_json():
        resp = jsonify({"error": "Unauthorized", "message": msg})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="geo-antt"'
        return resp
    nxt = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=nxt))


def login_required(view: F) -> F:
    """Decorator: anonymous requests are redirected to the login page (401 JSON for the API)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return _unauthorized()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def require_role(*roles: str) -> Callable[[F], F]:
    """Decorator: the current user must be logged in and have one of ``roles`` (else 401/403)."""

    def deco(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _unauthorized()
            if user.role not in roles:
                raise PermissionDeniedError(
                    f"this needs the role {' or '.join(roles)} (account {user.name!r} is {user.role})"
                )
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return deco


def check_scope(unit_code: str) -> None:
    """Raise :class:`~geo_antt.PermissionDeniedError` unless the current user may see ``unit_code``.

    Admins see everything; others see their units and the units below them.
    """
    user = current_user()
    if user is None:
        raise PermissionDeniedError("not logged in")
    if not _state().store.in_scope(user, unit_code):
        raise PermissionDeniedError(f"unit {unit_code} is outside the area of account {user.name!r}")


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return url_for("auth.landing")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("auth.landing")
    return target


def _failed_login(response: Any) -> bool:
    """Whether a login response counts against the login rate limits (failures only)."""
    return response.status_code in (400, 401)


def _login_key() -> str:
    return f"{get_remote_address()}|{fold(request.form.get('name', ''))}"


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """The login form (GET) and the login itself (POST: name, password, csrf_token, next)."""
    lang = _lang()
    t = MESSAGES[lang]
    error = None
    status = 200
    nxt = request.values.get("next", "")
    if request.method == "POST":
        user = _state().store.authenticate(request.form.get("name", ""), request.form.get("password", ""))
        if user is not None:
            lifetime_s = current_app.permanent_session_lifetime.total_seconds()
            try:
                sid = _state().store.start_session(user.name, lifetime_s=lifetime_s)
            except BusyError as exc:
                return _busy(exc, t, lang, nxt)
            session.clear()  # a fresh session: no fixation
            session[_SESSION_ID] = sid
            session[_SESSION_USER] = user.name
            session[_SESSION_STAMP] = user.credential_stamp
            session["lang"] = lang
            session.permanent = True
            return redirect(_safe_next(nxt))
        error = t["bad_login"]
        status = 401
    return render_template("auth/login.html", t=t, lang=lang, error=error, next=nxt), status


def _busy(exc: BusyError, t: dict[str, str], lang: str, nxt: str) -> Any:
    """503 with ``Retry-After``: the store is held by another writer (login and logout write)."""
    if wants_json():
        resp = jsonify({"error": "BusyError", "message": t["busy"]})
    else:
        resp = current_app.make_response(render_template("auth/login.html", t=t, lang=lang, error=t["busy"], next=nxt))
    resp.status_code = 503
    resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


@bp.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests) -> Any:
    lang = _lang()
    t = MESSAGES[lang]
    if wants_json():
        return jsonify({"error": "TooManyRequests", "message": t["too_many"]}), 429
    return render_template(
        "auth/login.html", t=t, lang=lang, error=t["too_many"], next=request.values.get("next", "")
    ), 429


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    """End the session (POST with the CSRF token) and go back to the login page.

    The session ends on the server too: its cookie, replayed later, no longer logs anyone in.
    Other sessions of the account (other browsers) go on.
    """
    lang = session.get("lang", "vi")
    try:
        _state().store.end_session(session.get(_SESSION_ID))
    except BusyError as exc:  # the session goes on: say so, rather than only forget the cookie
        return _busy(exc, MESSAGES["en" if lang == "en" else "vi"], lang, "")
    session.clear()
    return redirect(url_for("auth.login", lang=lang if lang == "en" else None))


@bp.route("/auth/landing")
def landing() -> Any:
    """Where a login without ``next`` lands: the app's home page (config ``GEO_ANTT_HOME_ENDPOINT``,
    else ``views.index`` or ``index`` when present), else the account as JSON.
    """
    for endpoint in (current_app.config.get("GEO_ANTT_HOME_ENDPOINT"), "views.index", "views.map_page", "index"):
        if endpoint and endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    user = current_user()
    return jsonify({"user": user.to_dict() if user else None})


@bp.route("/api/me")
def me() -> Any:
    """The current account (name, role, units) as JSON."""
    user = current_user()
    return jsonify(user.to_dict() if user else None)


def _load_user_and_guard() -> Any:
    state: _AuthState = current_app.extensions[_EXT]
    g.geo_antt_user = None
    auth = request.headers.get("Authorization", "")
    by_token = False
    if auth.startswith("Bearer "):
        user = state.lookups.lookup(
            state.store, "t", auth[len("Bearer ") :].strip(), state.store.user_for_token, state.store.record_token_use
        )
        if user is None:
            resp = jsonify({"error": "Unauthorized", "message": "invalid or revoked API token"})
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = 'Bearer realm="geo-antt", error="invalid_token"'
            return resp
        g.geo_antt_user = user
        by_token = True
    elif session.get(_SESSION_USER) or session.get(_SESSION_ID):
        sid = session.get(_SESSION_ID)
        user = (
            state.lookups.lookup(state.store, "s", sid, state.store.user_for_session)
            if isinstance(sid, str) and sid
            else None
        )
        if (
            user is None
            or user.name != session.get(_SESSION_USER)
            or user.credential_stamp != session.get(_SESSION_STAMP)
        ):
            # ended on the server (logout, password, role or unit change, account disabled),
            # expired, or made before sessions were kept on the server
            for key in (_SESSION_ID, _SESSION_USER, _SESSION_STAMP):
                session.pop(key, None)
        else:
            g.geo_antt_user = user
    view = current_app.view_functions.get(request.endpoint or "")
    is_public = (
        request.endpoint is None or request.endpoint == "static" or bool(getattr(view, "_geo_antt_public", False))
    )
    if state.require_login and g.geo_antt_user is None and not is_public:
        return _unauthorized()
    if not by_token:
        state.csrf.protect()  # no-op for GET/HEAD/OPTIONS; 400 CSRFError without a valid token
    return None


def _forbidden(exc: PermissionDeniedError) -> Any:
    if wants_json():
        return jsonify(exc.to_dict()), 403
    t = MESSAGES[_lang()]
    return f"<!doctype html><meta charset=utf-8><title>403</title><p>{t['forbidden']}</p>", 403


def init_auth(
    app: Flask,
    store: Store,
    *,
    require_login: bool = True,
) -> None:
    """Install accounts, sessions, CSRF, rate limiting and the login guard on ``app``.

    Parameters
    ----------
    app
        The Flask app (its ``SECRET_KEY`` signs the session; a random one is made when unset,
        which logs everyone out at each restart).
    store
        The :class:`~geo_antt.store.Store` holding the accounts.
    require_login
        When true (default) every view but the login page, static files and :func:`public`
        views needs a logged-in user. Turn it off only to serve public aggregates.

    Config keys read: ``GEO_ANTT_SECURE_COOKIES`` (default False), ``GEO_ANTT_SESSION_HOURS``
    (session lifetime, default 12 hours), ``GEO_ANTT_AUTH_CACHE_S`` (seconds a token/session
    lookup is trusted while the store's access revision stays put, default 10; a session past
    its expiry may so last up to that much longer; 0 = no cache), ``GEO_ANTT_LOGIN_RATE``
    (default ``"5 per minute"``), ``RATELIMIT_STORAGE_URI`` (default ``"memory://"``).
    """
    if not app.secret_key:
        app.secret_key = secrets.token_hex(32)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:  # Flask's default is None
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("GEO_ANTT_SECURE_COOKIES", False))
    app.config["PERMANENT_SESSION_LIFETIME"] = _dt.timedelta(hours=float(app.config.get("GEO_ANTT_SESSION_HOURS", 12)))
    # CSRF is checked by the guard (skipped for token requests), not on every request blindly.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session
    csrf = CSRFProtect(app)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI", "memory://"),
        default_limits=[],
        key_prefix=f"geo-antt-{id(app)}",
    )
    lookups = _LookupCache(ttl_s=float(app.config.get("GEO_ANTT_AUTH_CACHE_S", DEFAULT_AUTH_CACHE_S)))
    app.extensions[_EXT] = _AuthState(
        store=store, csrf=csrf, limiter=limiter, require_login=require_login, lookups=lookups
    )
    app.register_blueprint(bp)
    rate = app.config.get("GEO_ANTT_LOGIN_RATE", "5 per minute")
    view: Callable[..., Any] = app.view_functions["auth.login"]
    # Only failed attempts count (401, or 400 for a missing CSRF token): the limits throttle
    # guessing from one client (OWASP ASVS 2.2.1) but never lock an account out for others,
    # and people who log in successfully (an office behind one address) never use them up.
    view = limiter.limit(rate, key_func=_login_key, methods=["POST"], deduct_when=_failed_login)(view)
    view = limiter.limit("30 per minute", methods=["POST"], deduct_when=_failed_login)(view)
    app.view_functions["auth.login"] = view
    app.before_request(_load_user_and_guard)
    app.register_error_handler(PermissionDeniedError, _forbidden)
