"""Issue #12's scheduler faults on two real Ray clusters: the leading scheduler killed with SIGKILL while
jobs are queued and running, on SQLite and on PostgreSQL (scenario 3). The same experiments, at full size,
are `bench/reliability/scenario_sched_*.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ray_clusters import RayCluster
from tests.scheduler_faults import cluster_dies_and_returns, crash_and_restart, drain_with_jobs_running

pytestmark = pytest.mark.slow


def test_a_killed_leader_loses_no_job_runs_none_twice_and_its_follower_takes_over(
    clusters: dict[str, RayCluster], db_url: str, tmp_path: Path
) -> None:
    figures = crash_and_restart(clusters, db_url, tmp_path, jobs=200, run_after=8, lease_s=10.0)
    assert figures.on_pool_at_kill > 0 and figures.queued_at_kill > 100, figures
    assert figures.lost == 0 and figures.ran_twice == 0 and figures.ray_runs_twice == 0, figures
    assert not figures.both_led and figures.fifo_kept, figures
    assert figures.takeover_s <= figures.lease_s + 5, figures
    assert figures.passed, figures


def test_a_forgotten_or_dead_cluster_costs_no_silent_rerun_and_the_pool_recovers(
    clusters: dict[str, RayCluster], tmp_path: Path
) -> None:
    # The package's jinan cluster is stopped and started again on its ports with its token; the fixture's
    # dict holds the new one, so the package teardown stops it and later tests find it as before.
    figures = cluster_dies_and_returns(clusters, f"sqlite:///{tmp_path / 's.db'}", tmp_path, lost_after_s=5.0)
    assert figures.forgotten_lost and figures.forgotten_retried, figures  # scenario 5
    assert figures.unhealthy_after_s <= 2.0 and figures.other_pool_served, figures  # scenario 4
    assert figures.retried_elsewhere and figures.marked_lost and figures.resident_waited, figures
    assert figures.given_up_after_s <= figures.lost_after_s + 3, figures
    assert figures.recovered_after_s <= 5.0 and figures.ran_twice == 0, figures


def test_a_requeue_drain_never_runs_a_job_on_two_clusters_at_once(
    clusters: dict[str, RayCluster], tmp_path: Path
) -> None:
    figures = drain_with_jobs_running(clusters, f"sqlite:///{tmp_path / 's.db'}", tmp_path)
    assert figures.moved == 2 and figures.overlap_s <= 0, figures  # Ray's own end and start times
    assert figures.finish_kept_running, figures
