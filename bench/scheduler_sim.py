"""The trace simulator over the whole Alibaba GPU trace v2023: wall time and quality against baselines.

Not a timed test: run `python bench/scheduler_sim.py [--trace DIR] [--loads 0.8,1.0,1.2]`. Prints, for each
mode, the wall time and the ratios against the baselines measured in the same run, and writes
`bench/results/scheduler_sim.json`.

Targets (issue 14): on every workload variant in the trace folder, fill allocation at 100% arrived demand
(mean over the FGD paper's seeds 42-51; every seed's row in the JSON) >= the best of first-fit, best-fit
and dot-product (and >= 96% on the default trace), each fill run <= 10 s; beside them, the ceiling (every
arrived GPU share packed as tightly as any packing can) and each policy's loss against it;
replay on every variant with times: mean wait <= 0.5x and p95 wait <= 1.0x the better FIFO baseline, Jain's
index >= FIFO's. Writes the matrix to `bench/results/scheduler_matrix.json` (+ .png) as well.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from rich.console import Console

from scheduler.settings import SchedulerSettings
from scheduler.sim import (
    PAPER_SEEDS,
    fill_table,
    load_trace,
    matrix_table,
    plot_matrix,
    replay_policies,
    replay_table,
    run_fill,
    run_matrix,
    run_replay,
    trace_variants,
)

RESULTS = Path(__file__).parent / "results" / "scheduler_sim.json"
MATRIX = Path(__file__).parent / "results" / "scheduler_matrix.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trace", type=Path, default=SchedulerSettings().trace_dir)
    parser.add_argument("--loads", default="1.0", help="comma-separated offered loads for replay")
    parser.add_argument("--replay-variants", default="", help="comma-separated variants to replay too")
    parser.add_argument(
        "--seeds", default="paper", help="fill seeds: 'paper' (42-51, as the FGD paper) or a comma list"
    )
    parser.add_argument(
        "--part",
        choices=("all", "matrix", "replay"),
        default="all",
        help="matrix: the fill matrix only (scheduler_matrix.json); replay: the default fill and the replays "
        "only (scheduler_sim.json); two processes on two cores take half the time of one",
    )
    args = parser.parse_args()
    console = Console(width=160)
    if args.part in ("all", "matrix"):
        write_matrix(args, console)
    if args.part in ("all", "replay"):
        write_sim(args, console)


def write_matrix(args: argparse.Namespace, console: Console) -> None:
    seeds = PAPER_SEEDS if args.seeds == "paper" else tuple(int(x) for x in args.seeds.split(","))
    matrix = run_matrix(args.trace, seeds=seeds, progress=lambda v: console.print(f"fill {v} ..."))
    console.print(matrix_table(matrix))
    verdicts = {}
    for variant in matrix.variants:
        ours, best = matrix.row(variant, "fgd"), matrix.best_baseline(variant)
        verdicts[variant] = {
            "fgd_alloc_100": ours.allocated["100%"],
            "fgd_alloc_100_std": ours.allocated_std,
            "best_baseline": best.policy,
            "best_baseline_alloc_100": best.allocated["100%"],
            "best_baseline_alloc_100_std": best.allocated_std,
            "fgd_at_least_best": ours.allocated["100%"] >= best.allocated["100%"],
            "seeds_fgd_at_least_best": f"{matrix.seeds_won(variant)}/{len(matrix.seeds)}",
            "max_fill_wall_s": max(r.wall_s for r in matrix.rows if r.variant == variant),
            # How far from the best packing: the allocation had every arrived share been packed as
            # tightly as any packing can, and the GPUs each policy left beyond the best packing of
            # the shares it placed (scheduler/sim/_packing.py).
            "ceiling_alloc_100": ours.ceiling,
            "fgd_placement_loss_gpus": ours.placement_loss_gpus,
            "best_baseline_placement_loss_gpus": best.placement_loss_gpus,
        }
    MATRIX.parent.mkdir(parents=True, exist_ok=True)
    MATRIX.write_text(
        json.dumps({"machine": platform.platform(), "verdicts": verdicts, **matrix.to_json()}, indent=2)
    )
    plot_matrix(matrix, MATRIX.with_suffix(".png"))
    console.print(f"wrote {MATRIX}")


def write_sim(args: argparse.Namespace, console: Console) -> None:
    replay_variants = [v for v in args.replay_variants.split(",") if v]
    for variant in replay_variants:
        if variant not in trace_variants(args.trace):
            raise SystemExit(f"no variant {variant!r} in {args.trace}")
    trace = load_trace(args.trace)
    report: dict[str, object] = {
        "machine": platform.platform(),
        "tasks": len(trace.tasks),
        "nodes": len(trace.nodes),
    }

    started = time.perf_counter()
    fill = run_fill(trace)
    fill_wall = time.perf_counter() - started
    console.print(fill_table(fill))
    curves = {c.policy: c for c in fill.curves}
    fgd = curves["fgd"].at(1.0)
    fill_report: dict[str, object] = {"wall_s": fill_wall, "result": fill.to_json()}
    console.print(
        f"fill: {fill_wall:.2f} s wall for {len(curves)} policies (fgd alone {curves['fgd'].wall_s:.2f} s)"
    )
    for name in ("best-fit", "first-fit", "dot-product"):
        base = curves[name].at(1.0)
        alloc_ratio = fgd.allocated_share / base.allocated_share
        unalloc_ratio = fgd.unallocated_gpus / base.unallocated_gpus
        fill_report[f"vs_{name}"] = {"allocated_ratio": alloc_ratio, "unallocated_gpus_ratio": unalloc_ratio}
        console.print(
            f"  at 100% demand, fgd vs {name}: allocated {fgd.allocated_share:.1%} vs "
            f"{base.allocated_share:.1%} ({alloc_ratio:.3f}x); unallocated GPUs "
            f"{fgd.unallocated_gpus:,.0f} vs {base.unallocated_gpus:,.0f} "
            f"({unalloc_ratio:.2f}x, {1 - unalloc_ratio:.0%} fewer)"
        )
    report["fill"] = fill_report

    replays: dict[str, object] = {}
    for variant in ["default", *replay_variants]:
        trace = load_trace(args.trace, variant=variant)
        for load in (float(x) for x in args.loads.split(",")):
            started = time.perf_counter()
            replay = run_replay(trace, load, replay_policies("fgd"))
            wall = time.perf_counter() - started
            console.print(replay_table(replay))
            brain, fifo, fifo_best = replay.runs
            wait_ratio = brain.mean_wait_s / fifo.mean_wait_s if fifo.mean_wait_s else None
            jain_ratio = brain.jain_index / fifo.jain_index
            entry = {
                "wall_s": wall,
                "mean_wait_ratio_vs_fifo_first_fit": wait_ratio,
                "mean_wait_ratio_vs_fifo_best_fit": brain.mean_wait_s / fifo_best.mean_wait_s
                if fifo_best.mean_wait_s
                else None,
                "p95_wait_ratio_vs_fifo_first_fit": brain.p95_wait_s / fifo.p95_wait_s
                if fifo.p95_wait_s
                else None,
                "jain_ratio_vs_fifo_first_fit": jain_ratio,
                "result": replay.to_json(),
            }
            replays[f"{variant}@{load:g}"] = entry
            shown = f"{wait_ratio:.2f}x" if wait_ratio is not None else "n/a (FIFO never waited)"
            console.print(
                f"replay {variant} --load {load:g}: {wall:.2f} s wall for {len(replay.runs)} policies "
                f"(ours alone {brain.wall_s:.2f} s); mean wait vs strict FIFO {shown}; "
                f"Jain {brain.jain_index:.5f} vs {fifo.jain_index:.5f} ({jain_ratio:.5f}x)"
            )
    report["replay"] = replays
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
