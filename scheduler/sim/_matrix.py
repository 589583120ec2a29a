"""`matrix`: every workload variant of the trace through every placement policy, one table.

Each variant is one `fill` run (same nodes, same seed, same policies); the row keeps what the issue's
comparison needs: allocation at 90/100/110% arrived demand, and unallocated and fragmented GPUs at 100%.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scheduler.sim._fill import FILL_POLICIES, FillResult, run_fill
from scheduler.sim._trace import load_trace, trace_variants

MARKS: tuple[float, ...] = (0.9, 1.0, 1.1)
"""Arrived GPU demand, as a share of capacity, at which allocation is reported."""


@dataclass(frozen=True, slots=True)
class MatrixRow:
    variant: str
    policy: str
    allocated: dict[str, float]
    """Share of GPU capacity allocated, keyed by arrived demand ("90%", "100%", "110%")."""
    unallocated_gpus: float
    fragmented_gpus: float
    wall_s: float


@dataclass(slots=True)
class MatrixResult:
    policies: tuple[str, ...]
    variants: list[str] = field(default_factory=list)
    rows: list[MatrixRow] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def row(self, variant: str, policy: str) -> MatrixRow:
        return next(r for r in self.rows if r.variant == variant and r.policy == policy)

    def best_baseline(self, variant: str, ours: str = "fgd") -> MatrixRow:
        """The baseline with the most GPU allocated at 100% arrived demand on `variant`."""
        others = [r for r in self.rows if r.variant == variant and r.policy != ours]
        return max(others, key=lambda r: r.allocated["100%"])


def _mark(demand: float) -> str:
    return f"{demand:.0%}"


def matrix_rows(variant: str, result: FillResult) -> list[MatrixRow]:
    rows = []
    for curve in result.curves:
        at = curve.at(1.0)
        rows.append(
            MatrixRow(
                variant=variant,
                policy=curve.policy,
                allocated={_mark(m): curve.at(m).allocated_share for m in MARKS},
                unallocated_gpus=at.unallocated_gpus,
                fragmented_gpus=at.fragmented_gpus,
                wall_s=curve.wall_s,
            )
        )
    return rows


def run_matrix(
    folder: Path,
    policies: tuple[str, ...] = FILL_POLICIES,
    variants: Sequence[str] | None = None,
    seed: int = 2023,
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> MatrixResult:
    """Fill every variant in `folder` (or those named) with every policy, up to 110% arrived demand."""
    result = MatrixResult(policies=policies)
    for variant in variants if variants is not None else trace_variants(folder):
        if progress is not None:
            progress(variant)
        trace = load_trace(folder, limit=limit, variant=variant)
        fill = run_fill(trace, policies, max_demand=max(MARKS) + 0.05, seed=seed)
        result.variants.append(variant)
        result.rows.extend(matrix_rows(variant, fill))
    return result
