"""Bad input through `brain pools …` / `brain jobs …`: one clear error each (the CLI root prints the
error's `.message` and exits 2). No Ray needed: the pools are registered with a known capacity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.cli.jobs import jobs_app, pools_app
from scheduler.errors import (
    ResourcesImpossible,
    SchedulerError,
    SpecInvalid,
    UnknownPool,
    UnknownRegion,
    UnknownTenant,
)
from scheduler.store import SchedulerStore

runner = CliRunner()

TOPOLOGY = """
pools:
  - name: jinan
    city: 济南
    address: http://127.0.0.1:1
  - name: qingdao
    city: qingdao
    zone: coast
    address: http://127.0.0.1:2
queues:
  - name: shandong
  - name: jinan-steel
    parent: shandong
    tenant: jinan-steel
"""


@pytest.fixture
def home(brain_home: Path, tmp_path: Path) -> Path:
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY)
    result = runner.invoke(pools_app, ["apply", str(topology)])
    assert result.exit_code == 0, result.output
    store = SchedulerStore.open()
    # As the service records it from Ray: one 4-CPU node per pool.
    for pool in ("jinan", "qingdao"):
        store.record_pool_health(
            pool, "healthy", "", [{"id": "n", "cpu_milli": 4000, "memory_mib": 8192}], None
        )
    store.close()
    return brain_home


def error_of(app: object, args: list[str]) -> SchedulerError:
    result = runner.invoke(app, args)  # type: ignore[arg-type]
    assert result.exit_code != 0
    assert isinstance(result.exception, SchedulerError), result.output
    assert "\n" not in result.exception.message
    return result.exception


def test_a_good_job_is_queued(home: Path) -> None:
    result = runner.invoke(
        jobs_app,
        ["submit", "--tenant", "jinan-steel", "--entrypoint", "/usr/bin/true", "--region", "青岛", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert '"state": "queued"' in result.output


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (["--tenant", "nobody"], UnknownTenant, "tenant 'nobody' has no queue"),
        (["--tenant", "jinan-steel", "--cpu", "-1"], SpecInvalid, "greater than or equal to 0"),
        (["--tenant", "jinan-steel", "--cpu", "64"], ResourcesImpossible, "fits on no node"),
        (["--tenant", "jinan-steel", "--region", "atlantis"], UnknownRegion, "region 'atlantis'"),
        (["--tenant", "jinan-steel", "--priority", "urgent"], SpecInvalid, "priority_class"),
        (["--tenant", "jinan-steel", "--gpu", "1.5"], SpecInvalid, "whole GPUs"),
    ],
)
def test_bad_jobs_get_one_clear_error(
    home: Path, args: list[str], error: type[SchedulerError], words: str
) -> None:
    exc = error_of(jobs_app, ["submit", "--entrypoint", "/usr/bin/true", *args])
    assert isinstance(exc, error) and words in exc.message


def test_a_malformed_spec_file_is_refused(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "job.yaml"
    bad.write_text("tenant: jinan-steel\nentrypoint: /usr/bin/true\nbundels: [{cpu: 1}]\n")
    assert "bundels" in error_of(jobs_app, ["submit", str(bad)]).message
    bad.write_text("tenant: [unclosed\n")
    assert isinstance(error_of(jobs_app, ["submit", str(bad)]), SpecInvalid)
    assert "entrypoint" in error_of(jobs_app, ["submit", "--tenant", "jinan-steel"]).message


def test_unknown_pools_and_bad_topologies(home: Path, tmp_path: Path) -> None:
    assert isinstance(error_of(pools_app, ["cordon", "atlantis"]), UnknownPool)
    assert isinstance(error_of(pools_app, ["show", "atlantis"]), UnknownPool)
    bad = tmp_path / "bad.yaml"
    bad.write_text("pools:\n  - name: x\n    city: tokyo\n    address: http://127.0.0.1:3\n")
    assert "16 Shandong cities" in error_of(pools_app, ["apply", str(bad)]).message
    assert isinstance(error_of(jobs_app, ["show", "job-none"]), SchedulerError)


def test_pools_list_and_show(home: Path) -> None:
    result = runner.invoke(pools_app, ["list", "--json"])
    assert result.exit_code == 0
    assert [p["name"] for p in json.loads(result.output)] == ["jinan", "qingdao"]
    assert runner.invoke(pools_app, ["list"]).exit_code == 0
    result = runner.invoke(pools_app, ["drain", "qingdao", "--json"])
    assert result.exit_code == 0 and '"drain": "finish"' in result.output
    result = runner.invoke(pools_app, ["show", "qingdao"])
    assert result.exit_code == 0 and "coast" in result.output


def test_a_rendered_topology_with_an_addresses_map_applies(home: Path, tmp_path: Path) -> None:
    """The form `brain deploy render-manifests` writes: pools with declared nodes, addresses apart."""
    rendered = tmp_path / "pools.yaml"
    rendered.write_text(
        "pools:\n  - name: weifang\n    city: 潍坊\n    nodes: [{count: 2, cpu: 8, memory_mib: 32768}]\n"
        "addresses:\n  weifang: http://brain-weifang-head-svc.industry-brain.svc:8265\n"
    )
    result = runner.invoke(pools_app, ["apply", str(rendered)])
    assert result.exit_code == 0, result.output
    shown = json.loads(runner.invoke(pools_app, ["show", "weifang", "--json"]).output)
    assert shown["address"].startswith("http://brain-weifang-head-svc")
    # Declared nodes are what the policy plans against: 8 CPUs fit, 9 fit nowhere.
    ok = runner.invoke(
        jobs_app, ["submit", "--tenant", "jinan-steel", "--entrypoint", "/bin/true", "--cpu", "8"]
    )
    assert ok.exit_code == 0, ok.output
    too_big = error_of(jobs_app, ["submit", "--tenant", "jinan-steel", "--entrypoint", "x", "--cpu", "9"])
    assert isinstance(too_big, ResourcesImpossible)
