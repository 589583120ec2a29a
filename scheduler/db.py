"""Database plumbing shared by every store of the platform: engines and Alembic migrations.

The scheduler's store and the platform's own database both open SQLite (WAL, the embedded
default) or PostgreSQL (production) the same way and migrate at start-up without an ``alembic.ini``.
It lives here because the scheduler must run alone, and the platform may import the scheduler but
not the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, make_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names of every store: the migrations refer to them by name, identically on SQLite and
PostgreSQL."""


def new_metadata() -> MetaData:
    """A fresh `MetaData` with the platform's constraint names, for one store's declarative base."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets one process write (the usage flusher, the scheduler's cycle) while others read (gateways,
    # the CLI). NORMAL sync survives a killed process (only an OS crash can lose the last commits), which
    # is the crash the platform must survive, and it is much faster than FULL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@dataclass(frozen=True)
class Migrations:
    """One Alembic migration folder, shipped inside its package.

    Each store's ``env.py`` names its own version table (given here too, to read the current
    revision), so several stores can share one database.
    """

    folder: Path
    version_table: str = "alembic_version"

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Bring the database to ``revision`` (idempotent; safe to call at every start)."""
        with engine.begin() as connection:
            command.upgrade(self._config(connection), revision)

    def downgrade(self, engine: Engine, revision: str) -> None:
        """Go back to ``revision`` ("base": none of this folder's tables at all)."""
        with engine.begin() as connection:
            command.downgrade(self._config(connection), revision)

    def current(self, engine: Engine) -> str | None:
        """The revision the database is at, or None before the first migration."""
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": self.version_table})
            return context.get_current_revision()

    def _config(self, connection: Connection) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.folder))
        # env.py runs on this connection instead of building its own engine from a URL.
        config.attributes["connection"] = connection
        return config


def utc(moment: datetime) -> datetime:
    """Mark a naive datetime read back from SQLite (which drops the offset) as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def run_migrations(
    target: MetaData,
    url: Callable[[], str],
    version_table: str = "alembic_version",
    include_name: Callable[..., bool] | None = None,
) -> None:
    """The body of a migration folder's ``env.py``: run on the connection `Migrations` passes in, or,
    from the ``alembic`` command, on an engine for ``sqlalchemy.url`` or for ``url()`` (the store's
    settings); offline, write the SQL for ``sqlalchemy.url``."""
    from alembic import context

    def configure(**given: Any) -> None:
        context.configure(target_metadata=target, version_table=version_table, **given)

    if context.is_offline_mode():
        configure(url=context.config.get_main_option("sqlalchemy.url"))
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        configure(
            connection=connection,
            include_name=include_name,
            # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = context.config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = open_engine(context.config.get_main_option("sqlalchemy.url") or url())
    try:
        with engine.begin() as own:
            run(own)
    finally:
        engine.dispose()
