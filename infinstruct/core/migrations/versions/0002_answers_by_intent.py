"""curated answers and hand-offs by intent

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 00:25:00

A curated answer may answer every question of one intent (``curatedanswer.intent``), and a
hand-off carries the intent detected for its question (``handoff.intent`` and
``handoff.intent_confidence``), so operators see which intents lack an answer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("curatedanswer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_curatedanswer_intent"), ["intent"], unique=False)
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column("intent_confidence", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_handoff_intent"), ["intent"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_intent"))
        batch_op.drop_column("intent_confidence")
        batch_op.drop_column("intent")
    with op.batch_alter_table("curatedanswer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_curatedanswer_intent"))
        batch_op.drop_column("intent")
