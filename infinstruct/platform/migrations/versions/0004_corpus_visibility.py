"""corpus visibility (public or internal)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 00:25:00

Reserved in the chain so that parallel work on issue 22 adds its schema here without
creating a second Alembic head; it is a no-op until that work fills it in.
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
