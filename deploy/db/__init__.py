"""The platform database (tenants, keys, audit, usage): its declarative base and its migrations.

The schema is owned by the Alembic migrations in ``deploy/db/migrations`` (shipped inside the package);
:func:`migrate` brings any database to the newest revision without an ``alembic.ini``. Engines and the
migration runner are the ones every store of the platform shares (`scheduler.db`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import DeclarativeBase

from scheduler.db import Migrations, new_metadata, open_engine, utc, utcnow

MIGRATIONS = Migrations(Path(__file__).with_name("migrations"))

__all__ = ["MIGRATIONS", "Base", "current_revision", "downgrade", "migrate", "open_engine", "utc", "utcnow"]


class Base(DeclarativeBase):
    """Declarative base of every table of the platform state."""

    metadata = new_metadata()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the platform database to ``revision`` (idempotent; safe to call at every start)."""
    MIGRATIONS.upgrade(engine, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the platform database to ``revision`` ("base": no platform tables at all)."""
    MIGRATIONS.downgrade(engine, revision)


def current_revision(engine: Engine) -> str | None:
    return MIGRATIONS.current(engine)
