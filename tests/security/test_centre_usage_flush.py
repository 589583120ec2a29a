"""A call naming a 65-character component used to be metered under that name: on PostgreSQL (whose
usage column holds 64) every later usage flush of the replica failed, and billing silently stopped.
Now it is metered as ``-unknown-``, and the flush goes through on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from deploy.centre.calls import InferCall
from deploy.centre.errors import NotFound
from deploy.centre.inference import UNKNOWN, Centre
from deploy.db import utcnow
from deploy.metering import usage_report
from deploy.metering.calendar import month_of
from deploy.settings import PlatformSettings
from deploy.tenancy import TenantStore
from deploy.tenancy.bootstrap import ensure_operator
from tests.pg import PostgresUnavailable, postgres_server
from tests.security.conftest import prepare


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'usage.db'}"
        return
    try:
        with postgres_server() as server:
            url = server.create_database()
            yield url
            server.drop_database(str(make_url(url).database))
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


def test_a_65_character_name_does_not_break_the_usage_flush(tmp_path: Path, database_url: str) -> None:
    hub, settings, _ = prepare(tmp_path)
    settings = PlatformSettings(**{**settings.model_dump(), "database_url": database_url})
    store = TenantStore.open(settings)
    issued = ensure_operator(store)
    store.engine.dispose()
    assert issued is not None
    centre = Centre.open(hub, settings)
    try:
        with pytest.raises(NotFound, match="component names are 3-64"):
            InferCall(centre, issued.secret, "x" * 65, None)
        InferCall(centre, issued.secret, "sum-formula", None).succeeded()
        centre.meter.flush(centre.tenants.engine)
        month = month_of(utcnow())  # the metering calendar (China Standard Time)
        lines = {(u.component, u.calls, u.errors) for u in usage_report(centre.tenants.engine, month)}
    finally:
        centre.close()
        centre.tenants.engine.dispose()
    assert lines == {(UNKNOWN, 1, 1), ("sum-formula", 1, 0)}
