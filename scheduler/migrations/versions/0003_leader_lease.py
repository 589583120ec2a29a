"""The leader lease (one scheduler places work at a time) and when each attempt reached its pool.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sched_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sched_leases")),
    )
    with op.batch_alter_table("sched_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sched_jobs", schema=None) as batch_op:
        batch_op.drop_column("submitted_at")
    op.drop_table("sched_leases")
