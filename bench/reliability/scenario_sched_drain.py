"""Scenario 8 of issue #12: a pool drained with jobs running on it (two local Ray clusters, 2 CPUs each).

`drain --requeue`: each job is stopped on the drained pool and requeued only once Ray reports it stopped,
so no job runs on two clusters at once (measured from Ray's own start and end times). `drain` (finish):
the running job ends where it is, new work lands elsewhere. Run under ``flock /tmp/brain-ray.lock``.
"""

from __future__ import annotations

from tests.scheduler_faults import drain_with_jobs_running, two_clusters, write_result


def run() -> dict[str, object]:
    with two_clusters() as (clusters, root):
        f = drain_with_jobs_running(clusters, f"sqlite:///{root / 'sched.db'}", root / "run")
    write_result("sched_drain", f.as_dict())
    return {
        "scenario": "8. pool drained with jobs running",
        "what": "two 30 s jobs running on jinan when it is drained with --requeue; then a plain drain (finish)",
        "figure": (
            f"requeue: {f.moved} of 2 stopped on jinan and running on qingdao after {f.moved_after_s:.1f} s; "
            f"time both attempts ran at once {f.overlap_s:.2f} s (Ray's own start and end times); finish: the "
            "running job ended on "
            f"jinan, new work went to qingdao: {f.finish_kept_running}"
        ),
        "passed": f.passed,
    }


if __name__ == "__main__":
    print(run())
