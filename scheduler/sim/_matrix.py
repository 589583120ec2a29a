"""`matrix`: every workload variant of the trace through every placement policy, one table.

Each variant is one `fill` run per seed (same nodes, same seeds, same policies); a row keeps what the
issue's comparison needs: allocation at 90/100/110% arrived demand, and unallocated and fragmented GPUs
at 100%, averaged over the seeds, with the spread at 100% and every seed's own row beside it. One seed's
arrival order moves a policy's allocation by a few tenths of a point, as much as the gaps being compared,
so the FGD paper averages its Monte-Carlo runs over ten seeds (42-51, `PAPER_SEEDS`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from scheduler.sim._fill import FILL_POLICIES, FillResult, run_fill
from scheduler.sim._trace import load_trace, trace_variants

MARKS: tuple[float, ...] = (0.9, 1.0, 1.1)
"""Arrived GPU demand, as a share of capacity, at which allocation is reported."""

PAPER_SEEDS: tuple[int, ...] = tuple(range(42, 52))
"""The seeds over which the FGD paper (and its simulator's expected results) average each fill curve."""


@dataclass(frozen=True, slots=True)
class SeedRow:
    """One fill run: one variant, one policy, one seed."""

    variant: str
    policy: str
    seed: int
    allocated: dict[str, float]
    """Share of GPU capacity allocated, keyed by arrived demand ("90%", "100%", "110%")."""
    unallocated_gpus: float
    fragmented_gpus: float
    wall_s: float
    ceiling: float = float("nan")
    """Allocation at 100% had every arrived GPU share been packed as tightly as any packing can
    (`FillResult.ceiling`; the same for every policy of the seed; NaN if 100% was not reached)."""
    placement_loss_gpus: float = float("nan")
    """Unallocated GPUs at 100% beyond the room that the best packing of the shares this policy had placed
    would still leave: what a better placement of the same tasks could have won back."""


@dataclass(frozen=True, slots=True)
class MatrixRow:
    """One variant × policy cell: the mean over the seeds, and how far the seeds spread at 100%."""

    variant: str
    policy: str
    allocated: dict[str, float]
    """Mean share of GPU capacity allocated, keyed by arrived demand ("90%", "100%", "110%")."""
    unallocated_gpus: float
    fragmented_gpus: float
    wall_s: float
    """The slowest seed's fill run."""
    seeds: int = 1
    allocated_std: float = 0.0
    """Standard deviation over the seeds of the allocation at 100% (0 for one seed)."""
    allocated_min: float = 0.0
    allocated_max: float = 0.0
    ceiling: float = float("nan")
    """Mean over the seeds of `SeedRow.ceiling`."""
    placement_loss_gpus: float = float("nan")
    """Mean over the seeds of `SeedRow.placement_loss_gpus`."""


@dataclass(slots=True)
class MatrixResult:
    policies: tuple[str, ...]
    seeds: tuple[int, ...] = (2023,)
    variants: list[str] = field(default_factory=list)
    rows: list[MatrixRow] = field(default_factory=list)
    per_seed: list[SeedRow] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def row(self, variant: str, policy: str) -> MatrixRow:
        return next(r for r in self.rows if r.variant == variant and r.policy == policy)

    def best_baseline(self, variant: str, ours: str = "fgd") -> MatrixRow:
        """The baseline with the most GPU allocated at 100% arrived demand on `variant`."""
        others = [r for r in self.rows if r.variant == variant and r.policy != ours]
        return max(others, key=lambda r: r.allocated["100%"])

    def seeds_won(self, variant: str, ours: str = "fgd") -> int:
        """On how many seeds `ours` allocated at least as much at 100% as every baseline of that seed."""
        won = 0
        for seed in self.seeds:
            runs = [r for r in self.per_seed if r.variant == variant and r.seed == seed]
            mine = next(r.allocated["100%"] for r in runs if r.policy == ours)
            won += all(mine >= r.allocated["100%"] for r in runs if r.policy != ours)
        return won


def _mark(demand: float) -> str:
    return f"{demand:.0%}"


def seed_rows(variant: str, result: FillResult, seed: int) -> list[SeedRow]:
    rows = []
    ceiling = result.ceiling()
    for curve in result.curves:
        at = curve.at(1.0)
        loss = curve.placement_loss_gpus()
        rows.append(
            SeedRow(
                variant=variant,
                policy=curve.policy,
                seed=seed,
                allocated={_mark(m): curve.at(m).allocated_share for m in MARKS},
                unallocated_gpus=at.unallocated_gpus,
                fragmented_gpus=at.fragmented_gpus,
                wall_s=curve.wall_s,
                ceiling=ceiling if ceiling is not None else float("nan"),
                placement_loss_gpus=loss if loss is not None else float("nan"),
            )
        )
    return rows


def summarise(runs: Sequence[SeedRow]) -> MatrixRow:
    """The mean of one variant × policy cell over its seeds, with the spread at 100%."""
    at100 = np.array([r.allocated["100%"] for r in runs])
    return MatrixRow(
        variant=runs[0].variant,
        policy=runs[0].policy,
        allocated={key: float(np.mean([r.allocated[key] for r in runs])) for key in runs[0].allocated},
        unallocated_gpus=float(np.mean([r.unallocated_gpus for r in runs])),
        fragmented_gpus=float(np.mean([r.fragmented_gpus for r in runs])),
        wall_s=max(r.wall_s for r in runs),
        seeds=len(runs),
        allocated_std=float(at100.std(ddof=1)) if len(runs) > 1 else 0.0,
        allocated_min=float(at100.min()),
        allocated_max=float(at100.max()),
        ceiling=float(np.mean([r.ceiling for r in runs])),
        placement_loss_gpus=float(np.mean([r.placement_loss_gpus for r in runs])),
    )


def run_matrix(
    folder: Path,
    policies: tuple[str, ...] = FILL_POLICIES,
    variants: Sequence[str] | None = None,
    seeds: Sequence[int] = (2023,),
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> MatrixResult:
    """Fill every variant in `folder` (or those named) with every policy, up to 110% arrived demand,
    once per seed."""
    if not seeds:
        raise ValueError("the matrix needs at least one seed")
    result = MatrixResult(policies=policies, seeds=tuple(seeds))
    for variant in variants if variants is not None else trace_variants(folder):
        if progress is not None:
            progress(variant)
        trace = load_trace(folder, limit=limit, variant=variant)
        runs: list[SeedRow] = []
        for seed in seeds:
            fill = run_fill(trace, policies, max_demand=max(MARKS) + 0.05, seed=seed)
            runs.extend(seed_rows(variant, fill, seed))
        result.variants.append(variant)
        result.per_seed.extend(runs)
        result.rows.extend(summarise([r for r in runs if r.policy == p]) for p in policies)
    return result
