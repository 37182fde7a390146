"""SQLite: index the width of each model's bounding box so bbox queries scan a narrow range.

A bbox query on SQLite scans ``ix_models_bbox`` for ``minx`` in ``[query min x - W, query max x]``
where ``W`` is the widest bounding box stored (``max(maxx - minx)``, read from this index in
O(log n)); points have width 0, so the scanned range is about the query's own width. PostGIS
uses its GIST index and needs nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

__all__: list[str] = []

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE INDEX ix_models_bbox_width ON models ((maxx - minx))")
        op.execute("CREATE INDEX ix_units_bbox_width ON units ((maxx - minx))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_units_bbox_width")
        op.execute("DROP INDEX ix_models_bbox_width")
