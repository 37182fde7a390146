"""Alembic migrations of the store (run programmatically by :meth:`geo_antt.store.Store.open`)."""

from __future__ import annotations

__all__: list[str] = []
