"""The deploy integration tests' engine: ``db_url`` (tests/integration/conftest.py) migrated to head."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from deploy.db import migrate, open_engine


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` with the schema migrated to head."""
    engine = open_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()
