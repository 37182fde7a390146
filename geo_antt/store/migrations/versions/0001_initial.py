"""Initial schema: units, models, audit log, users and their units.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geo_antt.store._types import Geometry, UTCDateTime

__all__: list[str] = []

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _bbox_columns() -> list[sa.Column]:
    return [sa.Column(c, sa.Float) for c in ("minx", "miny", "maxx", "maxy")]


def _spatial_index(table: str) -> None:
    """A bbox index: GIST on the geometry in PostGIS, a B-tree on the bbox columns elsewhere."""
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
    else:
        op.create_index(f"ix_{table}_bbox", table, ["minx", "miny", "maxx", "maxy"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "units",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(64)),
        sa.Column("approximate", sa.Boolean, nullable=False),
        sa.Column("valid_from", sa.String(10)),
        sa.Column("valid_to", sa.String(10)),
        sa.Column("extra", sa.JSON),
        sa.Column("geom", Geometry),
        *_bbox_columns(),
    )
    op.create_index("ix_units_parent_code", "units", ["parent_code"])
    _spatial_index("units")
    op.create_table(
        "models",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("field", sa.String(64)),
        sa.Column("host", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("unit_code", sa.String(64)),
        sa.Column("direction_deg", sa.JSON),
        sa.Column("fov_deg", sa.Float),
        sa.Column("range_m", sa.Float),
        sa.Column("radius_m", sa.Float),
        sa.Column("height_m", sa.Float),
        sa.Column("camera_type", sa.String(32)),
        sa.Column("owner", sa.Text),
        sa.Column("data_sharing", sa.JSON),
        sa.Column("start_date", sa.String(32)),
        sa.Column("end_date", sa.String(32)),
        sa.Column("notes", sa.Text),
        sa.Column("geom", Geometry),
        *_bbox_columns(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(128)),
        sa.Column("updated_by", sa.String(128)),
    )
    op.create_index("ix_models_unit_code", "models", ["unit_code"])
    _spatial_index("models")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(128)),
        sa.Column("unit_code", sa.String(64)),
        sa.Column("old", sa.JSON),
        sa.Column("new", sa.JSON),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_log_model_id", "audit_log", ["model_id"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "user_units",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
    )


def downgrade() -> None:
    for table in ("user_units", "users", "audit_log", "models", "units"):
        op.drop_table(table)
