"""The trace simulator: the Alibaba GPU trace v2023 through the scheduler's own policy code."""

from scheduler.sim._fill import FILL_POLICIES, FillCurve, FillPoint, FillResult, run_fill
from scheduler.sim._matrix import PAPER_SEEDS, MatrixResult, MatrixRow, SeedRow, run_matrix
from scheduler.sim._replay import (
    ReplayResult,
    ReplayRun,
    brain_policy,
    compression_for,
    fifo_policy,
    replay_policies,
    run_replay,
)
from scheduler.sim._report import fill_table, matrix_table, plot_fill, plot_matrix, plot_replay, replay_table
from scheduler.sim._trace import (
    CITIES,
    DEFAULT_VARIANT,
    Task,
    Trace,
    jain_index,
    load_trace,
    tenant_of,
    trace_available,
    trace_variants,
)

__all__ = [
    "CITIES",
    "DEFAULT_VARIANT",
    "FILL_POLICIES",
    "PAPER_SEEDS",
    "FillCurve",
    "FillPoint",
    "FillResult",
    "MatrixResult",
    "MatrixRow",
    "ReplayResult",
    "ReplayRun",
    "SeedRow",
    "Task",
    "Trace",
    "brain_policy",
    "compression_for",
    "fifo_policy",
    "fill_table",
    "jain_index",
    "load_trace",
    "matrix_table",
    "plot_fill",
    "plot_matrix",
    "plot_replay",
    "replay_policies",
    "replay_table",
    "run_fill",
    "run_matrix",
    "run_replay",
    "tenant_of",
    "trace_available",
    "trace_variants",
]
