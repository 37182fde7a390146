"""The store's unit tree and scope rules: which units an account may see (its units and their
descendants), the role checks every method makes, and unit lookups (existence, boundary polygon).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely
import sqlalchemy as sa

from .._errors import NotFoundError, PermissionDeniedError
from . import _tables as T
from ._base import SYSTEM_USER, StoreBase, User

__all__ = ["ScopeMixin"]


class ScopeMixin(StoreBase):
    """Scope and role checks over the unit tree (``parent_code``)."""

    # ------------------------------------------------------------------------------------------
    # scope

    @staticmethod
    def _closure_cte(roots: Sequence[str], *, name: str, up: bool = False) -> Any:
        base = sa.select(T.units.c.code.label("code"), T.units.c.parent_code.label("parent")).where(
            T.units.c.code.in_(list(roots))
        )
        cte = base.cte(name, recursive=True)
        u = T.units.alias(f"{name}_u")
        if up:
            step = sa.select(u.c.code, u.c.parent_code).where(u.c.code == cte.c.parent)
        else:
            step = sa.select(u.c.code, u.c.parent_code).where(u.c.parent_code == cte.c.code)
        return cte.union(step)

    def _closure(self, conn: sa.Connection, roots: Sequence[str], *, up: bool = False) -> set[str]:
        if not roots:
            return set()
        cte = self._closure_cte(roots, name="closure", up=up)
        return set(conn.execute(sa.select(cte.c.code)).scalars()) | set(roots)

    def _scope(self, conn: sa.Connection, user: User) -> set[str] | None:
        """Codes the user may see (None = everything)."""
        if user.is_admin:
            return None
        return self._closure(conn, user.unit_codes)

    def _within_unit(
        self, conn: sa.Connection, actor: User, unit_code: str, column: sa.ColumnElement
    ) -> sa.ColumnElement:
        """Condition "``column`` is ``unit_code`` or a unit below it", after checking the unit
        exists (404) and overlaps the account's area (403).
        """
        if not self._unit_exists(conn, unit_code):
            raise NotFoundError(f"unit {unit_code!r} is not in the store")
        if not actor.is_admin:
            scope = self._scope(conn, actor) or set()
            if unit_code not in scope and not (self._closure(conn, [unit_code]) & scope):
                raise PermissionDeniedError(f"unit {unit_code} is outside the area of account {actor.name!r}")
        sub = self._closure_cte([unit_code], name="subtree")
        return sa.or_(column.in_(sa.select(sub.c.code)), column == unit_code)

    def _scope_filter(self, column: Any, user: User) -> Any:
        if user.is_admin:
            return None
        if not user.unit_codes:
            return sa.false()
        cte = self._closure_cte(user.unit_codes, name="scope")
        return sa.or_(column.in_(sa.select(cte.c.code)), column.in_(list(user.unit_codes)))

    def scope_codes(self, user: User | None) -> frozenset[str] | None:
        """The unit codes ``user`` may see (its units and their descendants); None = all (admin)."""
        actor = self._actor(user)
        with self._read() as conn:
            scope = self._scope(conn, actor)
        return None if scope is None else frozenset(scope)

    def in_scope(self, user: User | None, unit_code: str) -> bool:
        """True when ``user`` may see unit ``unit_code`` (admins: always)."""
        scope = self.scope_codes(user)
        return scope is None or unit_code in scope

    @staticmethod
    def _actor(user: User | None) -> User:
        if user is None:
            return SYSTEM_USER
        if not isinstance(user, User):
            raise TypeError(f"'user' should be a geo_antt.store.User or None, got {type(user).__name__}")
        if not user.active:
            raise PermissionDeniedError(f"account {user.name!r} is disabled")
        return user

    @staticmethod
    def _require_edit(user: User) -> None:
        if not user.can_edit:
            raise PermissionDeniedError(f"account {user.name!r} ({user.role}) may not change models")

    @staticmethod
    def _require_admin(user: User, what: str) -> None:
        if not user.is_admin:
            raise PermissionDeniedError(f"only an admin may {what} (account {user.name!r} is {user.role})")

    def _check_unit_in_scope(self, scope: set[str] | None, unit_code: str | None, user: User, *, what: str) -> None:
        if scope is None:
            return
        if unit_code is None:
            raise PermissionDeniedError(
                f"{what}: no unit_code; account {user.name!r} may only use its own units ({', '.join(user.unit_codes) or 'none'})"
            )
        if unit_code not in scope:
            raise PermissionDeniedError(f"{what}: unit {unit_code} is outside the area of account {user.name!r}")

    @staticmethod
    def _require_visible(scope: set[str] | None, row: Any, model_id: str) -> None:
        """Raise :class:`~geo_antt.NotFoundError` unless the model ``row`` exists and is in
        ``scope``: a model outside the account's area answers exactly as an unknown id (same
        error, same message), so that ids cannot be probed across units.
        """
        if row is None or (scope is not None and row.unit_code not in scope):
            raise NotFoundError(f"no model with id {model_id!r}")

    # ------------------------------------------------------------------------------------------
    # units: lookups

    def _unit_exists(self, conn: sa.Connection, code: str) -> bool:
        return conn.execute(sa.select(T.units.c.code).where(T.units.c.code == code)).first() is not None

    def _area(self, conn: sa.Connection, code: str) -> shapely.Geometry | None:
        """Polygon of ``code``; a point-only unit falls back to its nearest polygonal ancestor."""
        seen = set()
        cur: str | None = code
        while cur is not None and cur not in seen:
            seen.add(cur)
            row = conn.execute(sa.select(T.units.c.geom, T.units.c.parent_code).where(T.units.c.code == cur)).first()
            if row is None:
                return None
            if row.geom is not None:
                g = shapely.from_wkb(row.geom)
                if g.geom_type in ("Polygon", "MultiPolygon"):
                    return g
            cur = row.parent_code
        return None
