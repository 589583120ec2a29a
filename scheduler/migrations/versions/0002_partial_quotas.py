"""Stored quotas: a zero written before partial quotas existed means "not named".

Before revision 0002 a quota (`guaranteed`, `borrowing_limit`, `lending_limit` of a queue) had 0 as the
default of every resource, and the stored spec wrote all three out: `{cpu: 1}` was stored as
`{"cpu": 1.0, "memory_mib": 0, "gpu": 0.0}`, so a zero there cannot be told from a resource the user left
out. Since partial quotas, a left-out resource is not constrained and a written 0 is a real zero; read
as is, those old rows would keep the bug partial quotas fixed (every job asking for memory a borrower).

So this migration rewrites each stored quota once: a zero beside a named non-zero resource becomes "not
named" (null). A quota that is all zeros stays as it is: it named nothing positive, and reading it as
"unconstrained" would turn a guarantee of nothing into an unlimited one. Specs written after this
revision are not touched again, so an explicit 0 written through the API keeps meaning zero.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

QUOTAS = ("guaranteed", "borrowing_limit", "lending_limit")
RESOURCES = ("cpu", "memory_mib", "gpu")

_queues = sa.table("sched_queues", sa.column("name", sa.String), sa.column("spec", sa.Text))


def unname_zeros(spec: dict[str, Any]) -> dict[str, Any]:
    """The queue spec with each quota's zeros beside a non-zero resource left out (None)."""
    out = dict(spec)
    for field in QUOTAS:
        quota = spec.get(field)
        if not isinstance(quota, dict) or not any(quota.get(r) for r in RESOURCES):
            continue
        out[field] = {k: (None if k in RESOURCES and v == 0 else v) for k, v in quota.items()}
    return out


def upgrade() -> None:
    bind = op.get_bind()
    for name, text in bind.execute(sa.select(_queues.c.name, _queues.c.spec)).all():
        spec = json.loads(text)
        fixed = unname_zeros(spec)
        if fixed != spec:
            bind.execute(_queues.update().where(_queues.c.name == name).values(spec=json.dumps(fixed)))


def downgrade() -> None:
    # The old code cannot read null and took a left-out resource as 0: write the zeros back.
    bind = op.get_bind()
    for name, text in bind.execute(sa.select(_queues.c.name, _queues.c.spec)).all():
        spec = json.loads(text)
        old = dict(spec)
        for field in QUOTAS:
            quota = spec.get(field)
            if isinstance(quota, dict):
                old[field] = {k: (0 if k in RESOURCES and v is None else v) for k, v in quota.items()}
        if old != spec:
            bind.execute(_queues.update().where(_queues.c.name == name).values(spec=json.dumps(old)))
