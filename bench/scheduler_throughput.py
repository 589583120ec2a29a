"""Policy throughput: placement decisions per second with 10,000 pending jobs over 1,500 nodes in 20 pools.

Not a timed test: run `python bench/scheduler_throughput.py`. Prints ratios against baselines measured in
the same run (strict FIFO + first-fit, the cheapest policy there is) and against the 5,000/s target, and
writes `bench/results/scheduler_throughput.json`.

Two situations:
- `empty`: the cluster starts empty, so most of the 10,000 jobs are admitted in one cycle;
- `full`: the cluster is already full, so one cycle must settle 10,000 jobs that cannot start (the deep
  queue that made Kueue wait, kueue #14477) — reported as the cycle time.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from scheduler import (
    Admit,
    ClusterState,
    Job,
    Node,
    Ordering,
    PolicyConfig,
    Pool,
    QueueTree,
    Resources,
    make_scorer,
    schedule,
)
from scheduler.model import SHANDONG_CITIES

NODES, POOLS, JOBS = 1500, 20, 10_000
TARGET = 5000.0
RESULTS = Path(__file__).parent / "results" / "scheduler_throughput.json"
CITIES = list(SHANDONG_CITIES)

# Task shapes and frequencies roughly as in the Alibaba trace: shared GPUs, whole GPUs, CPU-only.
SHAPES: list[tuple[Resources, float]] = [
    (Resources(cpu_milli=6000, memory_mib=12288, gpu=1, gpu_milli=460), 0.10),
    (Resources(cpu_milli=8000, memory_mib=30000, gpu=1, gpu_milli=810), 0.14),
    (Resources(cpu_milli=4000, memory_mib=15000, gpu=1, gpu_milli=470), 0.10),
    (Resources(cpu_milli=4000, memory_mib=8000, gpu=1, gpu_milli=320), 0.06),
    (Resources(cpu_milli=12000, memory_mib=47104, gpu=1), 0.44),
    (Resources(cpu_milli=32000, memory_mib=120000, gpu=4), 0.01),
    (Resources(cpu_milli=64000, memory_mib=240000, gpu=8), 0.01),
    (Resources(cpu_milli=8000, memory_mib=16000), 0.14),
]


def build_state(seed: int = 7) -> ClusterState:
    rng = np.random.default_rng(seed)
    pools = [
        Pool(
            f"pool-{i:02d}",
            city=CITIES[i % 16],
            zone=("north", "east", "south", "west")[i % 4],
            price_per_gpu_hour=float(rng.uniform(6, 14)),
            carbon_g_per_kwh=float(rng.uniform(300, 700)),
        )
        for i in range(POOLS)
    ]
    kinds = [
        (8, "G2", 96_000, 786_432),
        (2, "T4", 64_000, 262_144),
        (4, "V100M16", 96_000, 393_216),
        (0, None, 96_000, 524_288),
    ]
    nodes = []
    for n in range(NODES):
        gpus, kind, cpu, mem = kinds[int(rng.choice(4, p=[0.45, 0.3, 0.1, 0.15]))]
        nodes.append(Node(f"node-{n:04d}", pools[n % POOLS].name, cpu, mem, gpu_count=gpus, gpu_type=kind))
    return ClusterState(pools, nodes, QueueTree.flat(CITIES))


def build_jobs(seed: int = 11) -> list[Job]:
    rng = np.random.default_rng(seed)
    weights = np.array([w for _, w in SHAPES])
    picks = rng.choice(len(SHAPES), size=JOBS, p=weights / weights.sum())
    jobs = []
    for i, pick in enumerate(picks):
        tenant = CITIES[i % 16]
        regions = frozenset({("north", "east", "south", "west")[i % 4]}) if i % 5 == 0 else None
        jobs.append(
            Job(
                id=f"job-{i:05d}",
                tenant=tenant,
                queue=tenant,
                bundles=(SHAPES[int(pick)][0],),
                priority=int(rng.integers(0, 3)),
                allowed_regions=regions,
                submit_time=float(i),
            )
        )
    return jobs


def policies() -> dict[str, PolicyConfig]:
    workload = SHAPES
    return {
        "brain (fgd)": PolicyConfig(scorer=make_scorer("fgd", workload)),
        "brain (best-fit)": PolicyConfig(scorer=make_scorer("best-fit")),
        "fifo + first-fit (baseline)": PolicyConfig(
            scorer=make_scorer("first-fit"), ordering=Ordering.FIFO, backfill=False, preemption=False
        ),
        "fifo + best-fit (baseline)": PolicyConfig(
            scorer=make_scorer("best-fit"), ordering=Ordering.FIFO, backfill=False, preemption=False
        ),
    }


def measure(config: PolicyConfig, full: bool) -> dict[str, float]:
    state = build_state()
    jobs = build_jobs()
    if full:
        # Fill the cluster first (not timed) with top-priority work nobody may preempt, then queue 10,000
        # more: the cycle must settle a deep queue of jobs that cannot start.
        for job in jobs:
            state.submit(replace(job, priority=9))
        for decision in schedule(state, PolicyConfig(scorer=make_scorer("first-fit"), preemption=False)):
            state.apply(decision)
        for job_id in list(state.pending):
            state.cancel(job_id)
        jobs = [replace(j, id=j.id + "-more") for j in jobs]
    for job in jobs:
        state.submit(job)
    started = time.perf_counter()
    decisions = schedule(state, config)
    elapsed = time.perf_counter() - started
    admitted = sum(isinstance(d, Admit) for d in decisions)
    return {
        "pending": len(jobs),
        "decisions": len(decisions),
        "admitted": admitted,
        "cycle_s": elapsed,
        # Placement decisions: jobs admitted with a placement, per second of policy time.
        "decisions_per_s": admitted / elapsed,
        # Jobs settled: every pending job either placed or found not to fit (strict FIFO stops early).
        "settled_per_s": len(jobs) / elapsed,
    }


def main() -> None:
    report: dict[str, object] = {"machine": platform.platform(), "nodes": NODES, "pools": POOLS, "jobs": JOBS}
    for situation in ("empty", "full"):
        rows = {name: measure(config, full=situation == "full") for name, config in policies().items()}
        base = rows["fifo + first-fit (baseline)"]
        print(f"\n{situation} cluster, {JOBS:,} pending, {NODES:,} nodes in {POOLS} pools")
        print(f"{'policy':30} {'admitted':>8} {'cycle s':>8} {'placed/s':>9} {'vs 5k':>6} {'vs fifo':>8}")
        out: dict[str, dict[str, float | None]] = {}
        for name, row in rows.items():
            vs_target = row["decisions_per_s"] / TARGET
            # Strict FIFO admits nothing once its head does not fit: no ratio to take then.
            ratio = row["decisions_per_s"] / base["decisions_per_s"] if base["decisions_per_s"] else None
            out[name] = {**row, "ratio_vs_target": vs_target, "ratio_vs_fifo_first_fit": ratio}
            shown = f"{ratio:>7.2f}x" if ratio is not None else f"{'-':>8}"
            print(
                f"{name:30} {row['admitted']:>8,.0f} {row['cycle_s']:>8.3f} {row['decisions_per_s']:>9,.0f} "
                f"{vs_target:>5.2f}x {shown}"
            )
        report[situation] = out
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
