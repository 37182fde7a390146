"""Accounts on the web (geo_antt.app.auth) in a minimal Flask app: login page, sessions, CSRF, rate
limiting, API tokens, roles and unit scope.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask, jsonify, request

from geo_antt import GeoAnttError
from geo_antt.app.auth import check_scope, current_user, init_auth, public, require_role
from geo_antt.store import Store
from tests.storehelp import CHEAP_HASHER, PASSWORD, seed


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'auth.sqlite'}", password_hasher=CHEAP_HASHER)
    seed(s)
    yield s
    s.close()


def make_app(store: Store, **config) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", TESTING=True, **config)
    init_auth(app, store)

    @app.errorhandler(GeoAnttError)
    def _err(exc):  # what the app factory's one error handler does
        return jsonify(exc.to_dict()), exc.http_status

    @app.get("/page")
    def page():
        return f"xin chào {current_user().name}"

    @app.post("/page")
    def page_post():
        return "saved"

    @app.get("/api/models")
    def api_models():
        return jsonify(sorted(store.models_frame(user=current_user()).index))

    @app.post("/api/models/<mid>")
    @require_role("admin", "officer")
    def api_edit(mid):
        body = request.get_json()
        out = store.update_model(mid, body["changes"], expected_version=body["version"], user=current_user())
        return jsonify({"id": mid, "version": out["version"]})

    @app.get("/api/units/<code>")
    def api_unit(code):
        check_scope(code)
        return jsonify({"code": code})

    @app.get("/about")
    @public
    def about():
        return "geo-antt"

    return app


@pytest.fixture
def app(store):
    return make_app(store)


def _csrf(client, path="/login"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _login(client, name="can_bo_a", password=PASSWORD, **extra):
    token = _csrf(client)
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password, **extra})


def test_anonymous_users_get_only_the_login_page(app):
    c = app.test_client()
    r = c.get("/page?x=1")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    assert r.headers["Location"] == "/login?next=/page?x%3D1"
    r = c.get("/api/models")
    assert r.status_code == 401 and r.get_json()["error"] == "Unauthorized"
    assert c.post("/api/models/a1", json={}).status_code == 401
    assert c.get("/about").status_code == 200  # explicitly public
    assert c.get("/login").status_code == 200


def test_login_page_is_vietnamese_with_english_available(app):
    c = app.test_client()
    vi = c.get("/login").get_data(as_text=True)
    assert '<html lang="vi">' in vi and "Đăng nhập" in vi and "Mật khẩu" in vi and "Tên đăng nhập" in vi
    en = c.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Log in" in en and "Password" in en
    r = _login(c, password="sai-mat-khau")
    assert r.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in r.get_data(as_text=True)


def test_login_logout_and_session_cookie_flags(app):
    c = app.test_client()
    r = _login(c, next="/page")
    assert r.status_code == 302 and r.headers["Location"] == "/page"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert c.get("/page").get_data(as_text=True) == "xin chào can_bo_a"
    assert c.get("/api/me").get_json()["role"] == "officer"
    r = c.post("/logout", data={"csrf_token": _csrf(c)})
    assert r.status_code == 302
    assert c.get("/page").status_code == 302


def test_secure_cookie_when_configured(store):
    c = make_app(store, GEO_ANTT_SECURE_COOKIES=True).test_client()
    r = _login(c)
    assert "Secure" in r.headers["Set-Cookie"]


def test_no_open_redirect_after_login(app):
    for target in ("https://evil.example/x", "//evil.example", "/\\evil.example"):
        c = app.test_client()
        r = _login(c, next=target)
        assert r.status_code == 302 and "evil" not in r.headers["Location"]


def test_csrf_rejects_posts_without_token(app):
    c = app.test_client()
    r = c.post("/login", data={"name": "can_bo_a", "password": PASSWORD})
    assert r.status_code == 400
    assert c.get("/page").status_code == 302  # not logged in
    _login(c)
    assert c.post("/page").status_code == 400
    assert c.post("/page", data={"csrf_token": "forged"}).status_code == 400
    token = _csrf(c)
    assert c.post("/page", headers={"X-CSRFToken": token}).status_code == 200
    assert c.post("/logout").status_code == 400  # logout is state-changing too


def test_login_rate_limit(app):
    c = app.test_client()
    for _ in range(5):
        assert _login(c, password="doan-bua").status_code == 401
    r = _login(c)  # even the right password is refused now
    assert r.status_code == 429 and "quá nhiều" in r.get_data(as_text=True)
    assert c.get("/page").status_code == 302
    # the limit is per account name and address: another account may still log in
    assert _login(c, name="xem_a").status_code == 302


def _login_from(app, address, **kw):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c, _login(c, **kw)


def test_failures_from_one_client_do_not_lock_the_account_for_others(app):
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.0.0.66"
    for _ in range(8):
        _login(attacker, password="doan-bua")
    assert _login(attacker).status_code == 429  # the guessing client stays throttled
    victim, r = _login_from(app, "10.0.0.7")
    assert r.status_code == 302 and victim.get("/api/me").get_json()["name"] == "can_bo_a"


def test_successful_logins_do_not_count_against_the_limits(app):
    # an office behind one address: many people (and many logins) a minute
    for _ in range(8):
        c, r = _login_from(app, "10.0.0.9")
        assert r.status_code == 302
    for name in ("admin", "xem_a", "can_bo_b"):
        for _ in range(11):
            c, r = _login_from(app, "10.0.0.10", name=name)
            assert r.status_code == 302


def test_api_tokens(app, store):
    token = store.create_token("can_bo_b", label="script", user=None)
    c = app.test_client()
    r = c.get("/api/models", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json() == ["b1"]
    # token requests carry no cookie: no CSRF token needed
    r = c.post(
        "/api/models/b1", json={"changes": {"range_m": 40}, "version": 1}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200 and r.get_json()["version"] == 2
    r = c.get("/api/models", headers={"Authorization": "Bearer gat_wrong"})
    assert r.status_code == 401
    store.revoke_tokens("can_bo_b", user=None)
    assert c.get("/api/models", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.parametrize(
    ("name", "model", "status"),
    [
        ("admin", "a1", 200),
        ("admin", "b1", 200),
        ("can_bo_a", "a1", 200),
        ("can_bo_a", "b1", 404),  # another commune's model: as an unknown id
        ("xem_a", "a1", 403),
        ("xem_a", "b1", 403),
    ],
)
def test_edit_endpoint_role_and_scope(app, store, name, model, status):
    c = app.test_client()
    _login(c, name=name)
    token = _csrf(c)
    r = c.post(
        f"/api/models/{model}", json={"changes": {"notes": "kiểm tra"}, "version": 1}, headers={"X-CSRFToken": token}
    )
    assert r.status_code == status
    assert (store.get_model(model)["notes"] == "kiểm tra") == (status == 200)


def test_read_endpoints_enforce_scope(app):
    c = app.test_client()
    _login(c, name="xem_a")
    assert c.get("/api/models").get_json() == ["a1", "a2"]
    assert c.get("/api/units/A1").status_code == 200
    r = c.get("/api/units/B")
    assert r.status_code == 403 and r.get_json()["error"] == "PermissionDeniedError"


def test_conflict_reaches_the_client_as_409(app):
    c = app.test_client()
    _login(c, name="admin")
    token = _csrf(c)
    h = {"X-CSRFToken": token}
    assert c.post("/api/models/a1", json={"changes": {"range_m": 11}, "version": 1}, headers=h).status_code == 200
    assert c.post("/api/models/a1", json={"changes": {"range_m": 12}, "version": 1}, headers=h).status_code == 409


def test_disabled_account_loses_its_session(app, store):
    c = app.test_client()
    _login(c)
    assert c.get("/page").status_code == 200
    store.set_user_active("can_bo_a", False, user=None)
    assert c.get("/page").status_code == 302


def test_password_change_ends_existing_sessions(app, store):
    c = app.test_client()
    _login(c)
    assert c.get("/page").status_code == 200
    store.set_password("can_bo_a", "mat-khau-moi-456", user=None)
    assert c.get("/page").status_code == 302
    assert _login(c, password="mat-khau-moi-456").status_code == 302
    assert c.get("/page").status_code == 200


def test_login_without_next_lands_on_the_home_page(store):
    c = make_app(store, GEO_ANTT_HOME_ENDPOINT="page").test_client()
    r = _login(c)
    assert r.status_code == 302
    r = c.get(r.headers["Location"])
    assert r.status_code == 302 and r.headers["Location"] == "/page"


def test_init_auth_on_the_app_factory(synthetic_dir, synthetic_cov, web_store):
    """create_app wires init_auth(app, store) itself: the login guard covers the whole service."""
    from geo_antt.app import create_app
    from tests.web_fixtures import WEB_PASSWORD

    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(synthetic_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "t",
        }
    )
    c = app.test_client()
    r = c.get("/map")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/map"
    for path in ("/collections", "/api/units", "/export/camera.geojson"):
        r = c.get(path)
        assert r.status_code == 401 and r.get_json()["error"] == "Unauthorized", path
    login = c.get("/login")
    assert login.status_code == 200 and "Content-Security-Policy" in login.headers
    r = _login(c, name="can_bo_hm", password=WEB_PASSWORD)
    assert r.status_code == 302
    assert c.get(r.headers["Location"]).headers["Location"] == "/map"  # landing -> the map page
    assert c.get("/collections").status_code == 200


def _hold_write_lock(path):
    """Another process's view: an open write transaction on the SQLite file (as a CLI import)."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_token_reads_do_not_wait_for_a_writer(tmp_path):
    import time

    path = tmp_path / "busy.sqlite"
    with Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER) as store:
        seed(store)
        token = store.create_token("can_bo_b", label="script", user=None)
        c = make_app(store).test_client()
        lock = _hold_write_lock(path)
        try:
            t0 = time.perf_counter()
            r = c.get("/api/models", headers={"Authorization": f"Bearer {token}"})
            elapsed = time.perf_counter() - t0
        finally:
            lock.rollback()
            lock.close()
        assert r.status_code == 200 and r.get_json() == ["b1"]
        assert elapsed < 2.0, f"a token read waited {elapsed:.1f} s for the write lock"
        # the use was not recorded while locked; the next request records it
        import sqlalchemy as sa

        with store._engine.connect() as conn:
            assert conn.execute(sa.text("SELECT last_used_at FROM api_tokens")).scalar() is None
        assert c.get("/api/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with store._engine.connect() as conn:
            assert conn.execute(sa.text("SELECT last_used_at FROM api_tokens")).scalar() is not None


def test_a_write_blocked_by_another_writer_answers_503(tmp_path, monkeypatch):
    from geo_antt import BusyError
    from geo_antt.store import _store

    monkeypatch.setattr(_store, "_BUSY_TIMEOUT_MS", 200)  # do not wait 30 s in a test
    path = tmp_path / "busy.sqlite"
    with Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER) as store:
        seed(store)
        token = store.create_token("can_bo_b", label="script", user=None)
        app = make_app(store)

        @app.errorhandler(BusyError)
        def _busy(exc):  # what the app factory's handler does (geo_antt.app.auth.error_response)
            from geo_antt.app.auth import error_response

            return error_response(exc)

        c = app.test_client()
        c.get("/api/models", headers={"Authorization": f"Bearer {token}"})
        lock = _hold_write_lock(path)
        try:
            r = c.post(
                "/api/models/b1",
                json={"changes": {"range_m": 40}, "version": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            with pytest.raises(BusyError, match="busy"):
                store.set_user_active("xem_a", False, user=None)
        finally:
            lock.rollback()
            lock.close()
        assert r.status_code == 503 and r.headers["Retry-After"] == "10"
        assert r.get_json()["error"] == "BusyError"
        assert store.get_model("b1")["version"] == 1


def _replay(app, cookie):
    """A fresh client (another machine) presenting a captured session cookie."""
    c = app.test_client()
    c.set_cookie("session", cookie)
    return c.get("/api/me")


def test_logout_ends_the_session_on_the_server(app):
    c = app.test_client()
    _login(c)
    captured = c.get_cookie("session").value
    assert _replay(app, captured).get_json()["name"] == "can_bo_a"
    other = app.test_client()  # the same account in another browser
    _login(other)
    assert c.post("/logout", data={"csrf_token": _csrf(c)}).status_code == 302
    r = _replay(app, captured)
    assert r.status_code == 401 and r.get_json()["error"] == "Unauthorized"
    # per-session: the other browser stays logged in
    assert other.get("/api/me").get_json()["name"] == "can_bo_a"


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "passwd", "can_bo_a", "--password-stdin"],
        ["users", "disable", "can_bo_a"],
        ["users", "set", "can_bo_a", "--role", "viewer"],
        ["users", "set", "can_bo_a", "--unit", "A1"],
        ["users", "logout", "can_bo_a"],
    ],
    ids=["passwd", "disable", "role", "units", "logout"],
)
def test_cli_account_changes_end_sessions(app, store, tmp_path, monkeypatch, argv):
    import io

    from geo_antt.cli import main

    c = app.test_client()
    _login(c)
    captured = c.get_cookie("session").value
    bystander = app.test_client()
    _login(bystander, name="can_bo_b")
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-moi-456\n"))
    assert main([*argv, "--db", str(tmp_path / "auth.sqlite")]) == 0
    assert _replay(app, captured).status_code == 401
    assert c.get("/api/me").status_code == 401
    assert bystander.get("/api/me").get_json()["name"] == "can_bo_b"  # other accounts go on


def test_an_unchanged_access_keeps_sessions_and_end_sessions_logs_out_everywhere(app, store):
    c, d = app.test_client(), app.test_client()
    _login(c)
    _login(d)
    store.set_user_access("can_bo_a", role="officer", unit_codes=["A"], user=None)  # no change
    assert c.get("/api/me").status_code == 200
    with pytest.raises(GeoAnttError, match="only an admin"):
        store.end_sessions("can_bo_a", user=store.get_user("can_bo_b"))
    assert store.end_sessions("can_bo_a", user=store.get_user("can_bo_a")) == 2
    assert c.get("/api/me").status_code == 401 and d.get("/api/me").status_code == 401


def test_expired_sessions_do_not_log_in(store):
    import datetime as dt

    import sqlalchemy as sa

    from geo_antt.store import _tables as T

    app = make_app(store)
    c = app.test_client()
    _login(c)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with store._engine.begin() as conn:  # as if the session had begun 13 hours ago
        conn.execute(T.web_sessions.update().values(expires_at=past))
    assert c.get("/api/me").status_code == 401
    _login(app.test_client())  # a login purges expired sessions
    with store._engine.connect() as conn:
        expiries = conn.execute(sa.select(T.web_sessions.c.expires_at)).scalars().all()
    assert len(expiries) == 1 and expiries[0] > dt.datetime.now(dt.UTC) + dt.timedelta(hours=11)


def test_login_and_logout_while_an_import_holds_the_lock(tmp_path, monkeypatch):
    from geo_antt.store import _store

    monkeypatch.setattr(_store, "_BUSY_TIMEOUT_MS", 200)  # do not wait 30 s in a test
    path = tmp_path / "busy.sqlite"
    with Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER) as store:
        seed(store)
        app = make_app(store)
        c, d = app.test_client(), app.test_client()
        _login(c)
        token_c, token_d = _csrf(c), _csrf(d)
        lock = _hold_write_lock(path)
        try:
            r_login = d.post("/login", data={"csrf_token": token_d, "name": "can_bo_b", "password": PASSWORD})
            r_logout = c.post("/logout", data={"csrf_token": token_c})
            still = c.get("/api/me")
        finally:
            lock.rollback()
            lock.close()
        assert r_login.status_code == 503 and r_login.headers["Retry-After"] == "10"
        assert "Hệ thống đang bận ghi dữ liệu" in r_login.get_data(as_text=True)
        assert d.get("/api/me").status_code == 401  # not logged in
        # logout could not end the session on the server: it says so and the session goes on
        assert r_logout.status_code == 503 and "đang bận" in r_logout.get_data(as_text=True)
        assert still.get_json()["name"] == "can_bo_a"
        assert c.post("/logout", data={"csrf_token": _csrf(c)}).status_code == 302
        assert c.get("/api/me").status_code == 401


def test_lookups_are_remembered_until_access_changes_anywhere(app, store, tmp_path, monkeypatch):
    """The login guard looks a token/session up once, then trusts it while the store's access
    revision stays put; a revocation by another process (a second Store on the file, as the CLI)
    ends access on the very next request.
    """
    calls = {"token": 0, "session": 0}
    for name, kind in (("user_for_token", "token"), ("user_for_session", "session")):
        real = getattr(store, name)

        def counted(secret, _real=real, _kind=kind):
            calls[_kind] += 1
            return _real(secret)

        monkeypatch.setattr(store, name, counted)
    token = store.create_token("can_bo_b", label="script", user=None)
    c = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(5):
        assert c.get("/api/models", headers=auth).get_json() == ["b1"]
    assert calls["token"] == 1
    browser = app.test_client()
    _login(browser)
    for _ in range(5):
        assert browser.get("/api/me").get_json()["name"] == "can_bo_a"
    assert calls["session"] == 1
    with Store.open(f"sqlite:///{tmp_path / 'auth.sqlite'}", password_hasher=CHEAP_HASHER) as other:
        assert other.revoke_tokens("can_bo_b", user=None) == 1
        assert c.get("/api/models", headers=auth).status_code == 401
        assert browser.get("/api/me").status_code == 200  # another account's change: looked up again, still valid
        assert calls["session"] == 2
        other.end_sessions("can_bo_a", user=None)
        assert browser.get("/api/me").status_code == 401


def test_lookup_cache_can_be_turned_off(store, monkeypatch):
    app = make_app(store, GEO_ANTT_AUTH_CACHE_S=0)
    calls = []
    real = store.user_for_token
    monkeypatch.setattr(store, "user_for_token", lambda t: calls.append(t) or real(t))
    token = store.create_token("can_bo_b", label="script", user=None)
    c = app.test_client()
    for _ in range(3):
        assert c.get("/api/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert len(calls) == 3
