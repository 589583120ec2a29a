"""Scenarios 4 and 5 of issue #12 on two local Ray clusters (jinan, qingdao; 2 CPUs each):

5. two jobs finish on jinan while the scheduler is down, and jinan's Ray restarts before it is back (it
   forgets them, as issue #12 found): the one with a retry left runs again with an "outcome unknown,
   retried" event, the one without is "marked lost"; neither runs again silently.
4. jinan's head killed (SIGKILL): the pool turns unhealthy, queued work goes to qingdao (a job allowed only in
   jinan waits), the jobs on jinan are given up after `pool_lost_after_s` by their retry policy, and the
   pool recovers by itself when the cluster is back.

Run under ``flock /tmp/brain-ray.lock``. Full figures: ``bench/results/reliability_sched_cluster_fault.json``.
"""

from __future__ import annotations

from tests.scheduler_faults import cluster_dies_and_returns, two_clusters, write_result

LOST_AFTER_S = 5.0


def run() -> dict[str, object]:
    with two_clusters() as (clusters, root):
        f = cluster_dies_and_returns(clusters, f"sqlite:///{root / 'sched.db'}", root / "run", LOST_AFTER_S)
    write_result("sched_cluster_fault", f.as_dict())
    figure = (
        f"Ray restarted: verdict {f.forgotten_seen_s:.1f} s after it answered (retried: {f.forgotten_retried}, "
        f"marked lost: {f.forgotten_lost}); head stopped: unhealthy after {f.unhealthy_after_s:.1f} s, "
        f"jobs given up after {f.given_up_after_s:.1f} s (pool_lost_after_s {f.lost_after_s:g}), other pool "
        f"served: {f.other_pool_served}, resident job waited: {f.resident_waited}; healthy again "
        f"{f.recovered_after_s:.1f} s after the cluster answered; ran twice: {f.ran_twice}; {f.seconds:.0f} s"
    )
    return {
        "scenario": "4–5. one Ray cluster of two dies / restarts under running jobs",
        "what": (
            "two jobs (retries 1 and 0) finish on jinan while the scheduler is down and jinan's Ray restarts "
            "before it is back; then jinan's head SIGKILLed with two such jobs running, for longer than "
            "pool_lost_after_s, and started again; qingdao works throughout"
        ),
        "figure": figure,
        "passed": f.passed,
    }


if __name__ == "__main__":
    print(run())
