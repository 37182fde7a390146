"""Camera resolution and lens: what a camera is good for (detect, observe, recognise, identify).

``models.resolution_px`` holds a camera's horizontal resolution in pixels (NULL: not known, the
camera keeps its ``range_m`` for every tier) and ``models.lens`` its lens (``rectilinear``,
``fisheye``, ``panoramic``; NULL: rectilinear); ``geo_antt.tiers`` derives the range of each
tier from them. Existing rows keep NULL in both.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__: list[str] = []

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("models", sa.Column("resolution_px", sa.Float, nullable=True))
    op.add_column("models", sa.Column("lens", sa.String(32), nullable=True))


def downgrade() -> None:
    # a plain ALTER TABLE DROP COLUMN (SQLite >= 3.35): no table copy, other indexes kept
    op.drop_column("models", "lens")
    op.drop_column("models", "resolution_px")
