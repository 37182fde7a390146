"""API tokens; folded model names for diacritic-insensitive search (backfilled).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geo_antt.store._types import UTCDateTime
from geo_antt.text import fold

__all__: list[str] = []

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.add_column("models", sa.Column("search_name", sa.Text))
    # Backfill: existing rows get the folded form of their name (no diacritics, lower case, đ->d).
    bind = op.get_bind()
    models = sa.table(
        "models", sa.column("id", sa.String), sa.column("name", sa.Text), sa.column("search_name", sa.Text)
    )
    rows = bind.execute(sa.select(models.c.id, models.c.name)).all()
    if rows:
        bind.execute(
            models.update().where(models.c.id == sa.bindparam("_id")).values(search_name=sa.bindparam("_s")),
            [{"_id": r.id, "_s": fold(r.name) or None} for r in rows],
        )
    op.create_index("ix_models_search_name", "models", ["search_name"])


def downgrade() -> None:
    op.drop_index("ix_models_search_name", table_name="models")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("search_name")
    op.drop_table("api_tokens")
