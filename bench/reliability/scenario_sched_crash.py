"""Scenario 3 of issue #12: the scheduler killed (SIGKILL) with 1,000 jobs queued and some running, on
SQLite and on PostgreSQL, with a second scheduler process waiting on the same database.

Two local Ray clusters (2 CPUs each) are started for it and stopped after; PostgreSQL is a throwaway
server (tests/pg.py). Run under ``flock /tmp/brain-ray.lock``. Full figures:
``bench/results/reliability_sched_crash.json``.
"""

from __future__ import annotations

from tests.pg import PostgresUnavailable, postgres_server
from tests.scheduler_faults import crash_and_restart, two_clusters, write_result

JOBS = 1000
RUN_AFTER = 24
LEASE_S = 10.0


def run() -> dict[str, object]:
    results = []
    with two_clusters() as (clusters, root):
        sqlite = f"sqlite:///{root / 'sched.db'}"
        results.append(crash_and_restart(clusters, sqlite, root / "sqlite", JOBS, RUN_AFTER, LEASE_S))
        try:
            with postgres_server() as server:
                pg = crash_and_restart(
                    clusters, server.create_database(), root / "pg", JOBS, RUN_AFTER, LEASE_S
                )
                results.append(pg)
        except PostgresUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}")
    write_result("sched_crash", {"runs": [r.as_dict() for r in results]})
    figure = "; ".join(
        f"{r.database}: {r.jobs} queued, {r.on_pool_at_kill} on pools at the kill; lost {r.lost}, ran twice "
        f"{r.ran_twice} (markers), {r.ray_runs_twice} (Ray); follower led {r.takeover_s:.1f} s after the kill "
        f"(same host: it saw the PID gone; lease {r.lease_s:g} s); lease handovers {r.handovers}, placing at "
        f"once: {r.both_led}; per-tenant order kept: {r.fifo_kept}; admissions to a tenant holding 2+ slots "
        f"more than another {len(r.unfair_admissions)}; admitted after the kill per tenant {r.admitted_after}; "
        f"{r.ran_after_restart} ran after the kill"
        for r in results
    )
    return {
        "scenario": "3. scheduler killed (SIGKILL), restarted; two schedulers on one database",
        "what": (
            f"{JOBS} marker jobs queued by 4 tenants on two Ray clusters; leader SIGKILLed with jobs running, "
            "the waiting follower takes over, the killed one restarts and waits; SQLite then PostgreSQL"
        ),
        "figure": figure,
        "passed": len(results) == 2 and all(r.passed for r in results),
    }


if __name__ == "__main__":
    print(run())
