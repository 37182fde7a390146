"""The store's audit log: every change is written with who, when, and the old and new values;
:meth:`AuditMixin.audit_frame` reads it back, filtered to the reader's scope.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .._errors import GeoAnttError
from . import _tables as T
from ._base import User, _now
from ._scope import ScopeMixin

__all__ = ["AuditMixin"]


class AuditMixin(ScopeMixin):
    """Writing audit entries (in the caller's transaction) and reading them."""

    # ------------------------------------------------------------------------------------------
    # audit

    def _audit(
        self,
        conn: sa.Connection,
        actor: User,
        action: str,
        *,
        model_id: str | None = None,
        unit_code: str | None = None,
        old: Any = None,
        new: Any = None,
        detail: Any = None,
    ) -> None:
        conn.execute(
            T.audit_log.insert().values(
                at=_now(),
                user_name=actor.name,
                action=action,
                model_id=model_id,
                unit_code=unit_code,
                old=old,
                new=new,
                detail=detail,
            )
        )

    def audit_frame(
        self,
        *,
        model_id: str | None = None,
        limit: int = 100,
        user: User | None = None,
        user_name: str | None = None,
        unit_code: str | None = None,
        since: _dt.datetime | None = None,
        until: _dt.datetime | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """The newest ``limit`` audit entries (all, or those matching the filters), newest first.

        Parameters
        ----------
        model_id
            Only entries of this model.
        limit, offset
            At most ``limit`` entries, after skipping the ``offset`` newest matching ones (pages).
        user
            Who reads: non-admins see only entries of units in their scope (entries without a
            unit, such as account changes, only admins see).
        user_name
            Only entries made by this account.
        unit_code
            Only entries of this unit and the units below it (NotFoundError for an unknown
            unit, PermissionDeniedError for a unit outside the reader's area).
        since, until
            Only entries at or after ``since`` and before ``until`` (timezone-aware datetimes;
            naive ones are taken as UTC).

        Returns
        -------
        pandas.DataFrame
            Columns ``id, at, user_name, action, model_id, unit_code, old, new, detail,
            model_name`` (``at`` UTC; ``model_name`` the model's current name, None when the
            entry has no model).
        """
        actor = self._actor(user)
        if limit < 1:
            raise GeoAnttError(f"limit must be >= 1, got {limit}")
        if offset < 0:
            raise GeoAnttError(f"offset must be >= 0, got {offset}")
        a = T.audit_log
        m = T.models
        q = (
            sa.select(a, m.c.name.label("model_name"))
            .select_from(a.outerjoin(m, m.c.id == a.c.model_id))
            .order_by(a.c.id.desc())
            .limit(int(limit))
            .offset(int(offset))
        )
        if model_id is not None:
            q = q.where(a.c.model_id == model_id)
        if user_name is not None:
            q = q.where(a.c.user_name == user_name)
        if since is not None:
            q = q.where(a.c.at >= _aware(since))
        if until is not None:
            q = q.where(a.c.at < _aware(until))
        flt = self._scope_filter(a.c.unit_code, actor)
        if flt is not None:
            q = q.where(flt)
        with self._read() as conn:
            if unit_code is not None:
                q = q.where(self._within_unit(conn, actor, unit_code, a.c.unit_code))
            rows = conn.execute(q).all()
        cols = ["id", "at", "user_name", "action", "model_id", "unit_code", "old", "new", "detail", "model_name"]
        df = pd.DataFrame({c: pd.Series([getattr(r, c) for r in rows], dtype=object) for c in cols}, columns=cols)
        df["id"] = df["id"].astype("int64")
        df["at"] = pd.to_datetime(df["at"], utc=True)
        return df


def _aware(t: _dt.datetime) -> _dt.datetime:
    """A datetime with a time zone (naive ones are UTC)."""
    if not isinstance(t, _dt.datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    return t if t.tzinfo is not None else t.replace(tzinfo=_dt.UTC)
