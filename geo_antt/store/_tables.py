"""The tables of the store at the head revision (used for queries; the migrations create them).

Every change here needs a new migration in ``migrations/versions`` that brings an existing
database to the same shape without losing data.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..schema import MODEL_COLUMNS
from ._types import Geometry, UTCDateTime

__all__ = [
    "metadata",
    "units",
    "models",
    "audit_log",
    "users",
    "user_units",
    "api_tokens",
    "coverage_cache",
    "store_meta",
    "web_sessions",
    "context_features",
    "MODEL_DATA_COLUMNS",
]

metadata = sa.MetaData()

units = sa.Table(
    "units",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("parent_code", sa.String(64), index=True),
    sa.Column("approximate", sa.Boolean, nullable=False, default=False),
    sa.Column("valid_from", sa.String(10)),
    sa.Column("valid_to", sa.String(10)),
    sa.Column("extra", sa.JSON),
    sa.Column("geom", Geometry),
    sa.Column("minx", sa.Float),
    sa.Column("miny", sa.Float),
    sa.Column("maxx", sa.Float),
    sa.Column("maxy", sa.Float),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("field", sa.String(64)),
    sa.Column("host", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("unit_code", sa.String(64), index=True),
    sa.Column("direction_deg", sa.JSON),
    sa.Column("fov_deg", sa.Float),
    sa.Column("range_m", sa.Float),
    sa.Column("radius_m", sa.Float),
    sa.Column("height_m", sa.Float),
    sa.Column("resolution_px", sa.Float),  # 0008
    sa.Column("lens", sa.String(32)),  # 0008
    sa.Column("camera_type", sa.String(32)),
    sa.Column("owner", sa.Text),
    sa.Column("data_sharing", sa.JSON),
    sa.Column("start_date", sa.String(32)),
    sa.Column("end_date", sa.String(32)),
    sa.Column("notes", sa.Text),
    sa.Column("geom", Geometry),
    sa.Column("minx", sa.Float),
    sa.Column("miny", sa.Float),
    sa.Column("maxx", sa.Float),
    sa.Column("maxy", sa.Float),
    sa.Column("search_name", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128)),
    sa.Column("updated_by", sa.String(128)),
    sa.Column("generation", sa.BigInteger, index=True),  # the write that last changed it (0005)
)

# Columns of ``models`` that hold a model's data (MODEL_COLUMNS without id, plus geom).
MODEL_DATA_COLUMNS = tuple(c for c in MODEL_COLUMNS if c != "id")

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("user_name", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("model_id", sa.String(128), index=True),
    sa.Column("unit_code", sa.String(64)),
    sa.Column("old", sa.JSON),
    sa.Column("new", sa.JSON),
    sa.Column("detail", sa.JSON),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

user_units = sa.Table(
    "user_units",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("unit_code", sa.String(64), primary_key=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)

coverage_cache = sa.Table(
    "coverage_cache",
    metadata,
    sa.Column("unit_code", sa.String(64), primary_key=True),
    sa.Column("settings_key", sa.String(64), nullable=False),
    sa.Column("figures", sa.JSON, nullable=False),
    sa.Column("computed_at", UTCDateTime, nullable=False),
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

web_sessions = sa.Table(  # 0006: one row per logged-in browser (SHA-256 of its session id)
    "web_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)


# roads and buildings of each unit (migration 0007)
context_features = sa.Table(
    "context_features",
    metadata,
    sa.Column("layer", sa.String(16), primary_key=True),
    sa.Column("unit_code", sa.String(64), primary_key=True),
    sa.Column("feature_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("klass", sa.String(64)),
    sa.Column("levels", sa.Float),
    sa.Column("height_m", sa.Float),
    sa.Column("geom", Geometry),
    sa.Column("minx", sa.Float),
    sa.Column("miny", sa.Float),
    sa.Column("maxx", sa.Float),
    sa.Column("maxy", sa.Float),
)
