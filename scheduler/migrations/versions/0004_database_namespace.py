"""A namespace of this database in every Ray submission id.

Job ids come from (tenant, idempotency key) and submission ids from job ids and attempts, so two scheduler
databases pointed at one Ray cluster — a fresh one, or a restored backup — made the same submission ids,
and an attempt of the other database's run that Ray still knew (finished, say) was taken for this one's:
the job recorded done without running. Each database draws a random namespace when this table is made;
`brain restore` draws a new one, so attempts after a restore never collide with those the original
database made after the backup was taken. Submission ids already stored keep their old form: the
attempts they name are this database's own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    table = op.create_table(
        "sched_database",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("namespace", sa.String(length=32), nullable=False),
        sa.Column("drawn_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_database")),
    )
    op.bulk_insert(table, [{"id": 1, "namespace": uuid.uuid4().hex[:12], "drawn_at": time.time()}])


def downgrade() -> None:
    op.drop_table("sched_database")
