"""Context layers of the built world: roads and buildings, kept per unit.

``context_features`` holds the roads (``layer = 'roads'``: line pieces clipped to the unit they
were loaded for; ``klass`` = the OSM ``highway`` class) and buildings (``layer = 'buildings'``:
polygons whose representative point lies in the unit; ``klass`` = the ``building`` value,
``levels``, ``height_m``) of each unit. A load replaces the unit's rows of that layer whole
(:meth:`geo_antt.store.Store.put_context_layer`), in one transaction with one audit entry.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geo_antt.store._types import Geometry

__all__: list[str] = []

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "context_features",
        sa.Column("layer", sa.String(16), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("feature_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("klass", sa.String(64)),
        sa.Column("levels", sa.Float),
        sa.Column("height_m", sa.Float),
        sa.Column("geom", Geometry),
        *[sa.Column(c, sa.Float) for c in ("minx", "miny", "maxx", "maxy")],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_context_features_geom", "context_features", ["geom"], postgresql_using="gist")
    else:
        op.create_index("ix_context_features_bbox", "context_features", ["layer", "minx", "miny", "maxx", "maxy"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_context_features_geom", table_name="context_features")
    else:
        op.drop_index("ix_context_features_bbox", table_name="context_features")
    op.drop_table("context_features")
