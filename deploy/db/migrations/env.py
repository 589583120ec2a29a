"""Alembic environment of the platform database.

:func:`deploy.db.migrate` passes an open connection; run from the ``alembic`` command instead, the URL
comes from ``sqlalchemy.url`` or the platform settings.
"""

from __future__ import annotations

from deploy.db import Base
from deploy.metering import UsageRow
from deploy.settings import PlatformSettings
from deploy.tenancy.schema import ApiKeyRow, AuditRow, TenantRow
from scheduler.db import run_migrations

# Importing the row classes is what puts their tables on Base.metadata.
TABLES = (TenantRow, ApiKeyRow, AuditRow, UsageRow)

run_migrations(Base.metadata, lambda: PlatformSettings().db_url)
