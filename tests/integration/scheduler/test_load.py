"""A small run of bench/scheduler_load.py: jobs submitted through the REST API in bursts by several tenants
(the scheduler service in its own process, the platform's key check); zero API errors, every job counted in
the database. The full run (10,000 jobs, 20 tenants) is the benchmark itself."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.conftest import ROOT


def _bench() -> ModuleType:
    path = Path(ROOT) / "bench" / "scheduler_load.py"
    spec = importlib.util.spec_from_file_location("scheduler_load", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bursts_of_submissions_by_several_tenants_are_all_accepted_and_counted() -> None:
    result = _bench().run(jobs=160, tenants=4, burst=20, every_s=1.0)
    assert result["api_errors"] == 0, result["first_errors"]
    assert result["statuses"] == {"201": 160}
    assert result["jobs_in_database"] == result["accounted"] == 160
