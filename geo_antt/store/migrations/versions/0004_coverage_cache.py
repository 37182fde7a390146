"""Coverage cache: figures per unit, dropped for the units a model edit can touch.

``coverage_cache`` holds the coverage figures of one unit (JSON) computed under one set of
settings (``settings_key``); ``store_meta`` holds ``model_generation``, a counter every model
write increments, so a computation that raced with an edit is not cached.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geo_antt.store._types import UTCDateTime

__all__: list[str] = []

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage_cache",
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("settings_key", sa.String(64), nullable=False),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO store_meta (key, value) VALUES ('model_generation', 0)")
    # the widest footprint reach, max(range_m) / max(radius_m), read in O(log n)
    op.create_index("ix_models_range_m", "models", ["range_m"])
    op.create_index("ix_models_radius_m", "models", ["radius_m"])


def downgrade() -> None:
    op.drop_index("ix_models_radius_m", table_name="models")
    op.drop_index("ix_models_range_m", table_name="models")
    op.drop_table("store_meta")
    op.drop_table("coverage_cache")
