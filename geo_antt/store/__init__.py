"""The persistent store of geo-antt: one interface, two backends.

* embedded (default): one SQLite file ``<data dir>/geo-antt.sqlite`` (WAL mode), created on first
  use; geometry as WKB with lon/lat bounding-box columns under a B-tree index;
* PostgreSQL + PostGIS for large deployments (``--db postgresql://...`` or ``$GEO_ANTT_DB``):
  ``geometry(Geometry,4326)`` columns under GIST indexes.

The schema is migrated with Alembic when a store is opened (``geo_antt/store/migrations``).

Examples
--------
>>> from geo_antt.store import Store
>>> store = Store.open("sqlite:////tmp/example.sqlite")       # doctest: +SKIP
>>> admin = store.add_user("an", role="admin", password="...", user=None)  # doctest: +SKIP
>>> store.models_frame(unit_code="30280", user=admin)          # doctest: +SKIP
"""

from __future__ import annotations

from ._import import ImportPreview
from ._seed import seed_from_dataset
from ._store import (
    DB_ENV_VAR,
    DEFAULT_DB_NAME,
    IMPORT_PAUSE_ENV_VAR,
    ROLES,
    SYSTEM_USER,
    ModelChanges,
    Store,
    User,
    resolve_db_url,
)

__all__ = [
    "Store",
    "User",
    "ImportPreview",
    "ModelChanges",
    "ROLES",
    "SYSTEM_USER",
    "DB_ENV_VAR",
    "DEFAULT_DB_NAME",
    "IMPORT_PAUSE_ENV_VAR",
    "resolve_db_url",
    "seed_from_dataset",
]
