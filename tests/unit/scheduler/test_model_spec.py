"""Domain objects, user specs and the errors bad input gets."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from scheduler import (
    Amount,
    JobSpec,
    PoolSpec,
    Queue,
    QueueSpec,
    QueueTree,
    QueueTreeInvalid,
    Resources,
    ResourcesImpossible,
    SchedulerError,
    SchedulerSettings,
    UnknownQueue,
    UnknownRegion,
    UnknownScorer,
    UnknownTenant,
    make_scorer,
    policy_from_settings,
)
from scheduler.model import Quota, city_id
from tests.unit.scheduler.builders import job, two_city_state


def test_scheduler_never_imports_ray() -> None:
    code = "import sys, scheduler, scheduler.sim, scheduler.policy; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_resources_reject_negative_and_contradictory_requests() -> None:
    with pytest.raises(ResourcesImpossible) as negative:
        Resources(cpu_milli=-1)
    assert negative.value.status == 422
    assert "zero or more" in negative.value.message
    with pytest.raises(ResourcesImpossible, match="only a single GPU can be shared"):
        Resources(gpu=2, gpu_milli=500)
    with pytest.raises(ResourcesImpossible, match="outside 1..1000"):
        Resources(gpu=1, gpu_milli=0)
    assert Resources(gpu=1, gpu_milli=250).gpu_total_milli == 250
    assert Resources(gpu=4).amount == Amount(0, 0, 4000)


def test_queue_tree_paths_and_invalid_trees() -> None:
    tree = QueueTree(
        [Queue("shandong"), Queue("jinan", parent="shandong"), Queue("steel", parent="jinan", tenant="t1")]
    )
    assert tree.paths["steel"] == ("steel", "jinan", "shandong")
    assert tree.leaves == ["steel"]
    assert tree.tenant_queue == {"t1": "steel"}
    with pytest.raises(QueueTreeInvalid, match="exactly one root"):
        QueueTree([Queue("a"), Queue("b")])
    with pytest.raises(QueueTreeInvalid, match="unknown parent"):
        QueueTree([Queue("a"), Queue("b", parent="nope")])
    with pytest.raises(QueueTreeInvalid, match="cycle"):
        QueueTree([Queue("root"), Queue("x", parent="y"), Queue("y", parent="x")])
    with pytest.raises(QueueTreeInvalid, match="weight"):
        QueueTree([Queue("root", weight=0)])


def test_cities_by_pinyin_or_hanzi() -> None:
    assert city_id("济南") == "jinan"
    assert city_id("Qingdao") == "qingdao"
    assert city_id("beijing") is None


def test_job_spec_to_model() -> None:
    spec = JobSpec(
        id="train-1",
        tenant="a",
        priority_class="high",
        bundles=[{"cpu": 2, "memory_mib": 4096, "gpu": 0.25}, {"cpu": 8, "gpu": 2, "gpu_type": "A10"}],
        strategy="STRICT_PACK",
        allowed_regions=["济南", "east"],
    )
    model = spec.to_model()
    assert model.queue == "a" and model.priority == 2
    assert model.bundles[0] == Resources(cpu_milli=2000, memory_mib=4096, gpu=1, gpu_milli=250)
    assert model.bundles[1].gpu == 2 and model.bundles[1].gpu_types == frozenset({"A10"})
    assert model.allowed_regions == frozenset({"jinan", "east"})
    assert model.demand == Amount(10_000, 5120, 2250)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": "x", "tenant": "a", "bundles": [{"cpu": -1}]}, "greater than or equal to 0"),
        ({"id": "x", "tenant": "a", "bundles": [{"gpu": 1.5}]}, "whole GPUs"),
        ({"id": "x", "tenant": "a", "priority_class": "urgent"}, "unknown"),
        ({"id": "x", "tenant": "a", "allowed_regions": []}, "could run nowhere"),
        ({"id": "x", "tenant": "a", "colour": "red"}, "Extra inputs are not permitted"),
        ({"id": "bad id!", "tenant": "a"}, "pattern"),
    ],
)
def test_job_spec_errors_say_what_is_wrong(body: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        JobSpec.model_validate(body)


def test_pool_and_queue_specs() -> None:
    pool, nodes = PoolSpec(
        name="jn-1",
        city="济南",
        nodes=[{"count": 3, "cpu": 64, "memory_mib": 262144, "gpu": 8, "gpu_type": "A10"}],
    ).to_model()
    assert pool.city == "jinan" and len(nodes) == 3 and nodes[0].gpu_used_milli == [0] * 8
    with pytest.raises(ValidationError, match="16 Shandong cities"):
        PoolSpec(name="bj", city="beijing")
    with pytest.raises(ValidationError, match="gpu_type"):
        PoolSpec(name="x", city="jinan", nodes=[{"cpu": 8, "memory_mib": 1024, "gpu": 1}])
    queue = QueueSpec(name="a", parent="root", tenant="a", guaranteed={"gpu": 4}, lending_limit={"gpu": 1})
    # Resources a quota leaves out are not constrained by it (None), never a quota of zero.
    assert queue.to_model().guaranteed == Quota(None, None, 4000)
    with pytest.raises(ValidationError, match="lending_limit exceeds"):
        QueueSpec(name="a", guaranteed={"gpu": 1}, lending_limit={"gpu": 2})


def test_state_validation_errors_carry_http_status() -> None:
    state = two_city_state()
    with pytest.raises(UnknownTenant) as tenant:
        state.submit(job("j1", tenant="nobody"))
    assert tenant.value.status == 404
    with pytest.raises(UnknownRegion) as region:
        state.submit(job("j2", regions=["atlantis"]))
    assert region.value.status == 422 and "jinan" in region.value.message
    with pytest.raises(ResourcesImpossible, match="fits on no node") as big:
        state.submit(job("j3", gpu=16))
    assert big.value.status == 422
    with pytest.raises(ResourcesImpossible, match="no pool has GPUs of type"):
        state.submit(job("j4", gpu=1, gpu_type="H100"))
    with pytest.raises(UnknownQueue):
        state.validate(job("j5").__class__(id="j5", tenant="a", queue="zzz", bundles=(Resources(),)))
    with pytest.raises(UnknownScorer, match="best-fit"):
        make_scorer("worst-fit")
    assert issubclass(UnknownScorer, SchedulerError)
    # A city written in Chinese is accepted like its pinyin id.
    state.submit(job("ok", regions=["济南"]))


def test_settings_read_brain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAIN_HOME", "/tmp/brain-home")
    monkeypatch.setenv("BRAIN_PLACEMENT_SCORER", "best-fit")
    monkeypatch.setenv("BRAIN_PREEMPTION", "false")
    monkeypatch.setenv("BRAIN_DRAIN_NODES", "0")
    settings = SchedulerSettings()
    assert str(settings.home_dir) == "/tmp/brain-home"
    assert settings.placement_scorer == "best-fit"
    config = policy_from_settings(settings)
    assert config.scorer.name == "best-fit" and config.preemption is False
    assert config.fair_share_slack == settings.fair_share_slack == 0.5
    assert config.drain_nodes == settings.drain_nodes == 0
