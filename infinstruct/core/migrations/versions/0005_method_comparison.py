"""stored training-method comparisons

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 00:25:00

Reserved in the chain so that parallel work on issue 23 adds its schema here without
creating a second Alembic head; it is a no-op until that work fills it in.
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
