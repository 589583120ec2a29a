"""Issue #12, "load held": 10,000 jobs submitted through the scheduler's REST API in bursts by 20 tenants
(bench/scheduler_load.py; no Ray). Full figures: ``bench/results/reliability_sched_load.json``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler_load import run as load

from tests.scheduler_faults import write_result

JOBS, TENANTS, BURST = 10_000, 20, 20


def run() -> dict[str, object]:
    result = load(JOBS, TENANTS, BURST)
    write_result("sched_load", result)
    return {
        "scenario": "load: 10,000 jobs through the REST API",
        "what": f"{TENANTS} tenants, each its own key, bursts of {BURST} concurrent submissions every 1.25 s",
        "figure": (
            f"{result['jobs']} sent in {result['seconds']:.0f} s ({result['requests_per_s']:.0f}/s), API errors "
            f"{result['api_errors']}, {result['accounted']} accounted for in the database; latency p50 "
            f"{result['latency_p50_s']} s, p99 {result['latency_p99_s']} s"
        ),
        "passed": bool(result["passed"]),
    }


if __name__ == "__main__":
    print(run())
