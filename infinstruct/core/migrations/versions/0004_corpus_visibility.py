"""corpus visibility (public or internal)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 00:25:00

Every corpus gets ``visibility`` ('internal' unless an operator marks it 'public'): only
public corpora may be quoted to customers as sources.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("corpus", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "visibility",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="internal",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("corpus", schema=None) as batch_op:
        batch_op.drop_column("visibility")
