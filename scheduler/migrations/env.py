"""Alembic environment of the scheduler's tables.

:func:`scheduler.store.migrate` passes an open connection; run from the ``alembic`` command instead,
the URL comes from ``sqlalchemy.url`` or the scheduler's settings. The version table is the
scheduler's own, so the platform's migrations in the same database never see it.
"""

from __future__ import annotations

from scheduler.db import run_migrations
from scheduler.settings import SchedulerSettings
from scheduler.store import VERSION_TABLE, Base


def _include(name: str | None, type_: str, *_: object) -> bool:
    # Autogenerate must not propose dropping other packages' tables in a shared database.
    return type_ != "table" or (name or "").startswith("sched_")


run_migrations(Base.metadata, lambda: SchedulerSettings().database_url, VERSION_TABLE, _include)
