"""Web sessions kept on the server, so that they can be ended at once.

``web_sessions`` holds one row per logged-in browser: the SHA-256 of the random session id the
signed cookie carries (never the id itself), the account, and when the session began and
expires. Logout deletes the row of its session; a password change, disabling an account or
changing its role or units deletes every row of that account. A cookie whose row is gone no
longer logs anyone in (:meth:`geo_antt.store.Store.user_for_session`). Sessions made before this
revision carry no id: their users log in again once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geo_antt.store._types import UTCDateTime

__all__: list[str] = []

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_expires_at", table_name="web_sessions")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
