"""Alembic environment of the scheduler's tables.

:func:`scheduler.store.migrate` passes an open connection in ``config.attributes["connection"]``; run from
the ``alembic`` command instead, the URL comes from ``sqlalchemy.url`` or the scheduler's settings. The
version table is the scheduler's own, so the platform's migrations in the same database never see it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from scheduler.db import open_engine
from scheduler.settings import SchedulerSettings
from scheduler.store import VERSION_TABLE, Base

target_metadata = Base.metadata


def _include(name: str | None, type_: str, *_: object) -> bool:
    # Autogenerate must not propose dropping other packages' tables in a shared database.
    return type_ != "table" or (name or "").startswith("sched_")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_name=_include,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or SchedulerSettings().database_url
    engine = open_engine(url)
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
