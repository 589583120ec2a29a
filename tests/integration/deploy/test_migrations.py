"""The shipped migrations build exactly the schema the ORM expects, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from deploy.centre.payloads import PayloadRow
from deploy.db import Base, current_revision, downgrade, migrate, open_engine
from deploy.metering import UsageRow
from deploy.tenancy.schema import ApiKeyRow, AuditRow, TenantRow

pytestmark = pytest.mark.integration
TABLES = {"tenants", "api_keys", "audit_log", "usage", "payload_samples"}
ROWS = (TenantRow, ApiKeyRow, AuditRow, UsageRow, PayloadRow)  # importing them puts their tables on Base.metadata


def test_every_table_is_known() -> None:
    assert {row.__tablename__ for row in ROWS} == TABLES == set(Base.metadata.tables)


def test_migrate_creates_the_schema_and_is_idempotent(db_url: str) -> None:
    engine = open_engine(db_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        migrate(engine)  # every start calls it
        assert current_revision(engine) == "0002"
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_migrations_match_the_orm(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/nested/dir/platform.db")
    try:
        migrate(engine)
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
