"""Alembic environment: always run online on the connection the store hands over.

The store calls :func:`alembic.command.upgrade` with ``config.attributes["connection"]`` set;
there is no ``alembic.ini`` and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

__all__: list[str] = []

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable when run by hand
    raise RuntimeError("geo-antt migrations run through geo_antt.store.Store (geo-antt db upgrade)")

context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
