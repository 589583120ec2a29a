"""Tables (rich) and plots (matplotlib, Agg backend) of simulator results."""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table

from scheduler.sim._fill import FillResult
from scheduler.sim._matrix import MARKS, MatrixResult
from scheduler.sim._replay import ReplayResult

_LOSS_CAPTION = (
    "loss: unallocated GPUs beyond the room the best packing of the GPU shares that policy placed would "
    "still leave; ceiling: the allocation had every arrived share been packed that tightly"
)


def _gpus(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def _share(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2%}"


def fill_table(result: FillResult, marks: tuple[float, ...] = (0.9, 1.0, 1.1, 1.2)) -> Table:
    table = Table(title=f"fill: {result.nodes} nodes, {result.gpu_capacity:,.0f} GPUs")
    table.add_column("policy")
    for mark in marks:
        table.add_column(f"alloc @{mark:.0%}", justify="right")
    table.add_column("unalloc GPUs @100%", justify="right")
    table.add_column("frag GPUs @100%", justify="right")
    table.add_column("loss GPUs @100%", justify="right")
    table.add_column("placed", justify="right")
    table.add_column("wall s", justify="right")
    ceiling = result.ceiling()
    reached = _share(ceiling) if ceiling is not None else "not reached"
    table.caption = f"ceiling @100%: {reached}. {_LOSS_CAPTION}"
    for curve in result.curves:
        at = curve.at(1.0)
        loss = curve.placement_loss_gpus()
        table.add_row(
            curve.policy,
            *[f"{curve.at(m).allocated_share:.1%}" for m in marks],
            f"{at.unallocated_gpus:,.0f}",
            f"{at.fragmented_gpus:,.0f}",
            _gpus(loss) if loss is not None else "-",
            f"{curve.placed:,}/{curve.tasks:,}",
            f"{curve.wall_s:.2f}",
        )
    return table


def replay_table(result: ReplayResult) -> Table:
    table = Table(
        title=f"replay: load {result.load:g}, window {result.window_s:,.0f} s, {result.passes} pass(es)"
    )
    for column in ("policy", "mean wait s", "p95 wait s", "mean JCT s", "p95 JCT s", "CPU util", "GPU util"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for column in ("Jain", "decisions/s", "preempted", "wall s"):
        table.add_column(column, justify="right")
    for run in result.runs:
        table.add_row(
            run.policy,
            f"{run.mean_wait_s:,.1f}",
            f"{run.p95_wait_s:,.1f}",
            f"{run.mean_jct_s:,.0f}",
            f"{run.p95_jct_s:,.0f}",
            f"{run.cpu_utilisation:.1%}",
            f"{run.gpu_utilisation:.1%}",
            f"{run.jain_index:.5f}",
            f"{run.decisions_per_s:,.0f}",
            f"{run.preemptions:,}",
            f"{run.wall_s:.2f}",
        )
    return table


def plot_fill(result: FillResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for curve in result.curves:
        demand = [p.arrived_demand * 100 for p in curve.points]
        left.plot(demand, [p.allocated_share * 100 for p in curve.points], label=curve.policy)
        # Below ~90% every policy places everything: the right panel shows where they differ.
        late = [p for p in curve.points if p.arrived_demand >= 0.85]
        right.plot(
            [p.arrived_demand * 100 for p in late], [p.unallocated_gpus for p in late], label=curve.policy
        )
    left.set(xlabel="arrived GPU demand (% of capacity)", ylabel="GPU allocated (%)")
    right.set(xlabel="arrived GPU demand (% of capacity)", ylabel="unallocated GPUs (from 85% demand)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle("Alibaba GPU trace v2023: fill")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_replay(result: ReplayResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r.policy for r in result.runs]
    x = range(len(names))
    left.bar([i - 0.2 for i in x], [r.mean_wait_s for r in result.runs], width=0.4, label="mean")
    left.bar([i + 0.2 for i in x], [r.p95_wait_s for r in result.runs], width=0.4, label="p95")
    left.set(ylabel="queueing delay (s)")
    right.bar(list(x), [r.jain_index for r in result.runs])
    right.set(ylabel="Jain's index under contention (DRF shares)")
    right.set_ylim(min(r.jain_index for r in result.runs) * 0.999, 1.0)
    for axis in (left, right):
        axis.set_xticks(list(x), names, rotation=15)
        axis.grid(alpha=0.3, axis="y")
    left.legend()
    fig.suptitle(f"Alibaba GPU trace v2023: replay at load {result.load:g}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def matrix_table(result: MatrixResult) -> Table:
    """Variant × policy; the best allocation at 100% of each variant in bold. Over several seeds: the
    means, with the standard deviation at 100%."""
    seeds = len(result.seeds)
    over = f", mean of {seeds} seeds ({result.seeds[0]}-{result.seeds[-1]})" if seeds > 1 else ""
    table = Table(
        title=f"fill matrix: workload variants × placement policies (Alibaba GPU trace v2023{over})"
    )
    table.add_column("variant")
    table.add_column("policy")
    for mark in MARKS:
        table.add_column(f"alloc @{mark:.0%}", justify="right")
    table.add_column("unalloc GPUs @100%", justify="right")
    table.add_column("frag GPUs @100%", justify="right")
    table.add_column("loss GPUs @100%", justify="right")
    table.add_column("ceiling @100%", justify="right")
    table.add_column("wall s", justify="right")
    table.caption = _LOSS_CAPTION
    for variant in result.variants:
        rows = [r for r in result.rows if r.variant == variant]
        best = max(r.allocated["100%"] for r in rows)
        for i, row in enumerate(rows):
            at100 = f"{row.allocated['100%']:.2%}" + (f" ± {row.allocated_std:.2%}" if seeds > 1 else "")
            table.add_row(
                variant if i == 0 else "",
                row.policy,
                *[
                    f"[bold]{at100}[/bold]"
                    if key == "100%" and row.allocated[key] == best
                    else (at100 if key == "100%" else f"{row.allocated[key]:.2%}")
                    for key in row.allocated
                ],
                f"{row.unallocated_gpus:,.0f}",
                f"{row.fragmented_gpus:,.0f}",
                _gpus(row.placement_loss_gpus),
                _share(row.ceiling) if i == 0 else "",
                f"{row.wall_s:.2f}",
                end_section=i == len(rows) - 1,
            )
    return table


def plot_matrix(result: MatrixResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(max(6.0, 1.6 * len(result.variants)), 4))
    width = 0.8 / max(len(result.policies), 1)
    for j, policy in enumerate(result.policies):
        rows = [result.row(v, policy) for v in result.variants]
        axis.bar([i + (j - (len(result.policies) - 1) / 2) * width for i in range(len(result.variants))],
                 [r.allocated["100%"] * 100 for r in rows], width=width, label=policy,
                 yerr=[r.allocated_std * 100 for r in rows] if len(result.seeds) > 1 else None)  # fmt: skip
    axis.set_xticks(list(range(len(result.variants))), result.variants, rotation=15)
    low = min(r.allocated["100%"] for r in result.rows) * 100
    axis.set_ylim(max(0.0, low - 3), 100)
    axis.set(ylabel="GPU allocated at 100% arrived demand (%)")
    axis.grid(alpha=0.3, axis="y")
    axis.legend(ncols=len(result.policies), fontsize="small")
    seeds = f" (mean ± sd over {len(result.seeds)} seeds)" if len(result.seeds) > 1 else ""
    fig.suptitle(f"Alibaba GPU trace v2023: fill, every workload variant{seeds}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
