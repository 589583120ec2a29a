"""Alembic environment of the platform database.

:func:`deploy.db.migrate` passes an open connection in ``config.attributes["connection"]``; run from the
``alembic`` command instead, the URL comes from ``sqlalchemy.url`` or the platform settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from deploy.db import Base, open_engine
from deploy.metering import UsageRow
from deploy.settings import PlatformSettings
from deploy.tenancy.schema import ApiKeyRow, AuditRow, TenantRow

# Importing the row classes is what puts their tables on Base.metadata.
TABLES = (TenantRow, ApiKeyRow, AuditRow, UsageRow)
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
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
    url = context.config.get_main_option("sqlalchemy.url") or PlatformSettings().db_url
    engine = open_engine(url)
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
