"""The scheduler's tables: pools, queues, jobs and job events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sched_jobs",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("tenant", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("submit_time", sa.Float(), nullable=False),
        sa.Column("pool", sa.String(length=100), nullable=True),
        sa.Column("placements", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(length=300), nullable=True),
        sa.Column("requeue", sa.Boolean(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("ray_status", sa.String(length=20), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("logs_tail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("admitted_at", sa.Float(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_jobs")),
        sa.UniqueConstraint("tenant", "idempotency_key", name="uq_sched_jobs_tenant_key"),
    )
    with op.batch_alter_table("sched_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sched_jobs_pool"), ["pool"], unique=False)
        batch_op.create_index(batch_op.f("ix_sched_jobs_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_sched_jobs_tenant"), ["tenant"], unique=False)

    op.create_table(
        "sched_pools",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("cordoned", sa.Boolean(), nullable=False),
        sa.Column("drain", sa.String(length=10), nullable=False),
        sa.Column("health", sa.String(length=20), nullable=False),
        sa.Column("health_message", sa.Text(), nullable=False),
        sa.Column("nodes", sa.Text(), nullable=False),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sched_pools")),
    )
    op.create_table(
        "sched_queues",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sched_queues")),
    )
    op.create_table(
        "sched_job_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["sched_jobs.id"], name=op.f("fk_sched_job_events_job_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_job_events")),
    )
    with op.batch_alter_table("sched_job_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sched_job_events_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sched_job_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_job_events_job_id"))

    op.drop_table("sched_job_events")
    op.drop_table("sched_queues")
    op.drop_table("sched_pools")
    with op.batch_alter_table("sched_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_jobs_tenant"))
        batch_op.drop_index(batch_op.f("ix_sched_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_sched_jobs_pool"))

    op.drop_table("sched_jobs")
