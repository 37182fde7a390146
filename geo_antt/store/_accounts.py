"""The store's accounts: users (roles, units, passwords), API tokens, web sessions and the
access revision that moves when a session or token stops being valid.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.dialects import postgresql as _pg_dialect
from sqlalchemy.dialects import sqlite as _sqlite_dialect

from .._errors import GeoAnttError, NotFoundError, PermissionDeniedError
from ..schema import ROLES
from ..text import nfc
from . import _tables as T
from ._audit import AuditMixin
from ._base import User, _now

__all__ = ["AccountsMixin"]

_NAME_RE = re.compile(r"^[^\s/\\:]{1,128}$")
_TOKEN_PREFIX = "gat_"
_TOUCH_INTERVAL_S = 60  # an API token's last_used_at is recorded at most once a minute
_ACCESS_KEY = "access_revision"  # store_meta: moves when a session or token stops being valid


class AccountsMixin(AuditMixin):
    """Accounts, API tokens and web sessions."""

    # ------------------------------------------------------------------------------------------
    # users and tokens

    def _user_from_row(self, conn: sa.Connection, row: Any) -> User:
        codes = conn.execute(
            sa.select(T.user_units.c.unit_code)
            .where(T.user_units.c.user_id == row.id)
            .order_by(T.user_units.c.unit_code)
        ).scalars()
        stamp = hashlib.sha256((row.password_hash or "").encode("utf-8")).hexdigest()[:16]
        return User(
            name=row.name,
            role=row.role,
            unit_codes=tuple(codes),
            active=bool(row.active),
            id=row.id,
            credential_stamp=stamp,
        )

    def add_user(
        self,
        name: str,
        *,
        role: str,
        password: str | None = None,
        unit_codes: Iterable[str] = (),
        user: User | None = None,
    ) -> User:
        """Create an account (admin only). ``password`` None: no password login until one is set.

        Raises
        ------
        GeoAnttError
            Bad name, unknown role, or an account of that name exists.
        NotFoundError
            An unknown unit code.
        """
        actor = self._actor(user)
        self._require_admin(actor, "add accounts")
        name = nfc(name) or ""
        if not _NAME_RE.match(name):
            raise GeoAnttError(f"account name {name!r}: 1-128 characters, no spaces, '/', '\\' or ':'")
        if role not in ROLES:
            raise GeoAnttError(f"role {role!r}: use one of {', '.join(ROLES)}")
        codes = list(dict.fromkeys(str(c) for c in unit_codes))
        pw_hash = None if password is None else self._hash_password(password)
        with self._write() as conn:
            for c in codes:
                if not self._unit_exists(conn, c):
                    raise NotFoundError(
                        f"unit {c!r} is not in the store (load the boundaries first: geo-antt db load-units)"
                    )
            if conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first():
                raise GeoAnttError(f"account {name!r} exists already")
            uid = conn.execute(
                T.users.insert().values(name=name, password_hash=pw_hash, role=role, active=True, created_at=_now())
            ).inserted_primary_key[0]  # type: ignore[index]  # an INSERT's result has it; SQLAlchemy types it Optional
            if codes:
                conn.execute(T.user_units.insert(), [{"user_id": uid, "unit_code": c} for c in codes])
            self._audit(conn, actor, "user_add", detail={"user": name, "role": role, "units": codes})
        return User(name=name, role=role, unit_codes=tuple(sorted(codes)), active=True, id=uid)

    def _hash_password(self, password: str) -> str:
        if not isinstance(password, str) or len(password) < 8:
            raise GeoAnttError("a password needs at least 8 characters")
        return self._hasher.hash(password)

    def set_password(self, name: str, password: str, *, user: User | None) -> None:
        """Set the password of ``name`` (admin, or the account itself); ends its web sessions."""
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may set another account's password")
        h = self._hash_password(password)
        with self._write() as conn:
            n = conn.execute(T.users.update().where(T.users.c.name == name).values(password_hash=h)).rowcount
            if n != 1:
                raise NotFoundError(f"no account named {name!r}")
            self._end_sessions(conn, name)
            self._bump_access(conn)
            self._audit(conn, actor, "user_password", detail={"user": name})

    def set_user_active(self, name: str, active: bool, *, user: User | None) -> None:
        """Enable or disable an account (admin only); a disabled account's tokens stop working and
        its web sessions end.
        """
        actor = self._actor(user)
        self._require_admin(actor, "enable or disable accounts")
        with self._write() as conn:
            n = conn.execute(T.users.update().where(T.users.c.name == name).values(active=bool(active))).rowcount
            if n != 1:
                raise NotFoundError(f"no account named {name!r}")
            if not active:
                self._end_sessions(conn, name)
            self._bump_access(conn)
            self._audit(conn, actor, "user_active", detail={"user": name, "active": bool(active)})

    def set_user_access(
        self, name: str, *, role: str | None = None, unit_codes: Iterable[str] | None = None, user: User | None
    ) -> User:
        """Change the role and/or the units of an account (admin only); returns it afterwards.
        A change ends the account's web sessions (it logs in again with its new rights).
        """
        actor = self._actor(user)
        self._require_admin(actor, "change accounts")
        if role is not None and role not in ROLES:
            raise GeoAnttError(f"role {role!r}: use one of {', '.join(ROLES)}")
        codes = None if unit_codes is None else list(dict.fromkeys(str(c) for c in unit_codes))
        with self._write() as conn:
            row = conn.execute(sa.select(T.users).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            old = self._user_from_row(conn, row)
            if role is not None:
                conn.execute(T.users.update().where(T.users.c.id == row.id).values(role=role))
            if codes is not None:
                for c in codes:
                    if not self._unit_exists(conn, c):
                        raise NotFoundError(f"unit {c!r} is not in the store")
                conn.execute(T.user_units.delete().where(T.user_units.c.user_id == row.id))
                if codes:
                    conn.execute(T.user_units.insert(), [{"user_id": row.id, "unit_code": c} for c in codes])
            new_row = conn.execute(sa.select(T.users).where(T.users.c.id == row.id)).one()
            new = self._user_from_row(conn, new_row)
            if (new.role, new.unit_codes) != (old.role, old.unit_codes):
                self._end_sessions(conn, name)
            self._bump_access(conn)
            self._audit(conn, actor, "user_access", detail={"user": name, "old": old.to_dict(), "new": new.to_dict()})
        return new

    def get_user(self, name: str) -> User:
        """The account ``name``; :class:`~geo_antt.NotFoundError` when there is none."""
        with self._read() as conn:
            row = conn.execute(sa.select(T.users).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            return self._user_from_row(conn, row)

    def list_users(self) -> list[User]:
        """Every account, by name."""
        with self._read() as conn:
            rows = conn.execute(sa.select(T.users).order_by(T.users.c.name)).all()
            return [self._user_from_row(conn, r) for r in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        """The active account ``name`` if ``password`` is its password, else None.

        Unknown names cost the same hashing time as wrong passwords (no account enumeration by
        timing). A hash made with older argon2 parameters is upgraded on success.
        """
        with self._read() as conn:
            row = conn.execute(sa.select(T.users).where(T.users.c.name == (nfc(name) or ""))).first()
            user = self._user_from_row(conn, row) if row is not None else None
        if row is not None and row.password_hash:
            stored = row.password_hash
        else:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
            stored = self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or not row.password_hash or not row.active or user is None:
            return None
        if self._hasher.check_needs_rehash(stored):  # best effort: a later login does it if busy now
            stmt = T.users.update().where(T.users.c.id == row.id).values(password_hash=self._hasher.hash(password))
            self._try_write(lambda conn: conn.execute(stmt))
        return user

    def create_token(self, name: str, *, label: str = "", user: User | None) -> str:
        """Create an API token for account ``name`` and return it (shown once; only its SHA-256 is stored)."""
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may create tokens for another account")
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._write() as conn:
            row = conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            conn.execute(
                T.api_tokens.insert().values(
                    user_id=row.id, token_hash=_token_hash(token), label=nfc(label) or None, created_at=_now()
                )
            )
            self._audit(conn, actor, "token_create", detail={"user": name, "label": nfc(label) or None})
        return token

    def revoke_tokens(self, name: str, *, user: User | None) -> int:
        """Revoke every token of account ``name``; returns how many were active."""
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may revoke another account's tokens")
        with self._write() as conn:
            row = conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            n = conn.execute(
                T.api_tokens.update()
                .where(T.api_tokens.c.user_id == row.id, T.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            ).rowcount
            self._bump_access(conn)
            self._audit(conn, actor, "token_revoke", detail={"user": name, "count": n})
        return n

    def user_for_token(self, token: str) -> User | None:
        """The active account owning the unrevoked API token ``token``, else None."""
        if not token or not token.startswith(_TOKEN_PREFIX):
            return None
        h = _token_hash(token)
        with self._read() as conn:
            row = conn.execute(
                sa.select(T.users, T.api_tokens.c.id.label("token_id"), T.api_tokens.c.last_used_at)
                .join(T.api_tokens, T.api_tokens.c.user_id == T.users.c.id)
                .where(T.api_tokens.c.token_hash == h, T.api_tokens.c.revoked_at.is_(None))
            ).first()
            if row is None or not row.active:
                return None
            user = self._user_from_row(conn, row)
        if row.last_used_at is None or (_now() - row.last_used_at).total_seconds() > _TOUCH_INTERVAL_S:
            self._token_uses.pop(h, None)
            self.record_token_use(token)
        else:
            self._token_uses.setdefault(h, time.monotonic())
        return user

    def record_token_use(self, token: str) -> bool:
        """Record that ``token`` was just used (``api_tokens.last_used_at``), at most once every
        ``_TOUCH_INTERVAL_S`` seconds per token, best effort: skipped (and tried again on the
        next use) while another writer holds the database, so a read never waits for the write
        lock. Callers that remember :meth:`user_for_token` answers call it on each use.

        Returns
        -------
        bool
            True when the use is recorded (now or within the last interval).
        """
        h = _token_hash(token)
        last = self._token_uses.get(h)
        now = time.monotonic()
        if last is not None and now - last < _TOUCH_INTERVAL_S:
            return True
        stamp = _now()
        stmt = (
            T.api_tokens.update()
            .where(T.api_tokens.c.token_hash == h, T.api_tokens.c.revoked_at.is_(None))
            .values(last_used_at=stamp)
        )
        if not self._try_write(lambda conn: conn.execute(stmt)):
            return False
        if len(self._token_uses) > 10_000:
            self._token_uses.clear()
        self._token_uses[h] = now
        return True

    # ------------------------------------------------------------------------------------------
    # web sessions (server side, so that they can be ended at once)

    def start_session(self, name: str, *, lifetime_s: float) -> str:
        """Record a new web session of account ``name`` and return its id (random, 256 bits;
        only its SHA-256 is stored). Expired sessions of every account are purged.

        Parameters
        ----------
        name
            The account that just logged in.
        lifetime_s
            Seconds until the session expires (the session cookie's lifetime).
        """
        if not (isinstance(lifetime_s, (int, float)) and 0 < lifetime_s < 366 * 86400):
            raise GeoAnttError(f"session lifetime {lifetime_s!r} s: use more than 0 and less than 366 days")
        sid = secrets.token_urlsafe(32)
        now = _now()
        with self._write() as conn:
            row = conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            conn.execute(T.web_sessions.delete().where(T.web_sessions.c.expires_at <= now))
            conn.execute(
                T.web_sessions.insert().values(
                    id_hash=_token_hash(sid),
                    user_id=row.id,
                    created_at=now,
                    expires_at=now + _dt.timedelta(seconds=float(lifetime_s)),
                )
            )
        return sid

    def user_for_session(self, session_id: str | None) -> User | None:
        """The active account of the unexpired, not ended web session ``session_id``, else None
        (a read: never waits for a writer).
        """
        if not session_id or not isinstance(session_id, str):
            return None
        with self._read() as conn:
            row = conn.execute(
                sa.select(T.users)
                .join(T.web_sessions, T.web_sessions.c.user_id == T.users.c.id)
                .where(T.web_sessions.c.id_hash == _token_hash(session_id), T.web_sessions.c.expires_at > _now())
            ).first()
            if row is None or not row.active:
                return None
            return self._user_from_row(conn, row)

    def end_session(self, session_id: str | None) -> bool:
        """End one web session (logout); True when it was open."""
        if not session_id or not isinstance(session_id, str):
            return False
        with self._write() as conn:
            n = conn.execute(
                T.web_sessions.delete().where(T.web_sessions.c.id_hash == _token_hash(session_id))
            ).rowcount
            self._bump_access(conn)
        return n == 1

    def end_sessions(self, name: str, *, user: User | None) -> int:
        """End every web session of account ``name`` (admin, or the account itself: "log out
        everywhere"); returns how many were open.
        """
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may end another account's sessions")
        with self._write() as conn:
            if conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first() is None:
                raise NotFoundError(f"no account named {name!r}")
            return self._end_sessions(conn, name)

    @classmethod
    def _end_sessions(cls, conn: sa.Connection, name: str) -> int:
        uid = sa.select(T.users.c.id).where(T.users.c.name == name).scalar_subquery()
        n = conn.execute(T.web_sessions.delete().where(T.web_sessions.c.user_id == uid)).rowcount
        cls._bump_access(conn)
        return n

    @staticmethod
    def _bump_access(conn: sa.Connection) -> None:
        """Move ``store_meta.access_revision`` (in the caller's write transaction): a session
        ended, a token revoked, an account's password, role, units or state changed. Readers
        that remember token/session lookups (the web's login guard) drop them when it moves.
        An upsert: stores made before it have no such row (no migration needed).
        """
        insert = _pg_dialect.insert if conn.dialect.name == "postgresql" else _sqlite_dialect.insert
        stmt = insert(T.store_meta).values(key=_ACCESS_KEY, value=1)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=[T.store_meta.c.key], set_={"value": T.store_meta.c.value + 1})
        )

    def revisions(self) -> tuple[int, int]:
        """``(generation, access_revision)`` in one read: :meth:`generation`, and a counter that
        moves whenever a web session ends, a token is revoked or an account's password, role,
        units or state change (any process; 0 before the first such change).
        """
        keys = ("model_generation", _ACCESS_KEY)
        with self._read() as conn:
            rows = dict(
                conn.execute(
                    sa.select(T.store_meta.c.key, T.store_meta.c.value).where(T.store_meta.c.key.in_(keys))
                ).all()
            )
        return int(rows["model_generation"]), int(rows.get(_ACCESS_KEY, 0))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
