"""Model generation: which write last changed each model, so readers can fetch only the changes.

``models.generation`` holds the value of ``store_meta.model_generation`` set by the write that last
changed the model (NULL for rows written before this revision or by a bulk write);
``store_meta.reload_generation`` holds the generation of the last write that a reader cannot
follow model by model (units replaced, a backup restored, a very large import): a reader whose
copy is older than it reloads everything (:meth:`geo_antt.store.Store.changes_since`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__: list[str] = []

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("models", sa.Column("generation", sa.BigInteger, nullable=True))
    op.create_index("ix_models_generation", "models", ["generation"])
    # every reader older than this upgrade reloads once
    op.execute(
        "INSERT INTO store_meta (key, value) "
        "SELECT 'reload_generation', value FROM store_meta WHERE key = 'model_generation'"
    )


def downgrade() -> None:
    op.execute("DELETE FROM store_meta WHERE key = 'reload_generation'")
    op.drop_index("ix_models_generation", table_name="models")
    # a plain ALTER TABLE DROP COLUMN (SQLite >= 3.35): no table copy, other indexes kept
    op.drop_column("models", "generation")
