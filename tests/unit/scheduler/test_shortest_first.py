"""Inside a tenant's queue, small jobs by expected run time (rounded up to a power of two), then age;
whole-node jobs keep their age places (`PolicyConfig.shortest_first`, docs/architecture.md)."""

from __future__ import annotations

from dataclasses import replace

from scheduler import Admit, ClusterState, Job, Node, PolicyConfig, Pool, QueueTree, schedule
from scheduler.policy._admission import _shortest_small_first
from scheduler.policy.scorers import make_scorer
from tests.unit.scheduler.builders import job


def timed(name: str, runtime: float | None, submit: float, gpu: int = 1, tenant: str = "a") -> Job:
    return replace(job(name, tenant, gpu=gpu, submit=submit), runtime=runtime)


def test_small_jobs_go_by_rounded_run_time_and_gangs_keep_their_places() -> None:
    jobs = [
        timed("old-long", 5_000.0, 0.0),
        timed("gang", 9_000.0, 1.0, gpu=8),
        timed("unknown", None, 2.0),
        timed("short", 40.0, 3.0),
        timed("short-too", 60.0, 4.0),  # 40 and 60 round to 64: age decides between them
        timed("medium", 600.0, 5.0),
    ]
    _shortest_small_first(jobs)
    assert [j.id for j in jobs] == ["short", "gang", "short-too", "medium", "old-long", "unknown"]


def admitted(config: PolicyConfig) -> list[str]:
    """Two GPUs free, a tenant's queued 2-GPU long job and 1-GPU short one: which starts (not both)."""
    state = ClusterState(
        [Pool("p", city="jinan")], [Node("n", "p", 8_000, 65_536, gpu_count=2)], QueueTree.flat(["a"])
    )
    state.now = 10.0
    state.submit(timed("first-but-long", 7_200.0, 0.0, gpu=2))
    state.submit(timed("later-and-short", 120.0, 5.0))
    return [d.job_id for d in schedule(state, config) if isinstance(d, Admit)]


def test_the_shorter_of_a_tenants_jobs_starts_first_and_the_switch_turns_it_off() -> None:
    scorer = make_scorer("best-fit", None)
    assert admitted(PolicyConfig(scorer=scorer)) == ["later-and-short"]
    assert admitted(PolicyConfig(scorer=scorer, shortest_first=False)) == ["first-but-long"]
