"""`brain sim`: the trace simulator from the command line (mounted by the main CLI)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

import typer
from rich.table import Table

from deploy.cli._common import JsonOpt, console, emit_json, fail
from scheduler.errors import SchedulerError
from scheduler.policy import SCORERS
from scheduler.settings import SchedulerSettings
from scheduler.sim import (
    DEFAULT_VARIANT,
    FILL_POLICIES,
    fill_table,
    load_trace,
    matrix_table,
    plot_fill,
    plot_matrix,
    plot_replay,
    replay_policies,
    replay_table,
    run_fill,
    run_matrix,
    run_replay,
)

sim_app = typer.Typer(
    help="Replay the Alibaba GPU trace v2023 through the scheduler's policy: `fill` (fragmentation) and "
    "`replay` (queueing at a chosen load), each against baselines in the same run.",
    no_args_is_help=True,
)

TraceOption = Annotated[
    Path | None,
    typer.Option("--trace", help="trace folder (default: BRAIN_TRACE_DIR or ../shared/traces/...)"),
]
PolicyOption = Annotated[
    str, typer.Option("--policy", help=f"placement scorer of our policy: {', '.join(SCORERS)}")
]
PlotOption = Annotated[Path | None, typer.Option("--plot", help="write a PNG plot to this file")]
LimitOption = Annotated[int | None, typer.Option("--limit", min=1, help="use only the first N tasks")]
VariantOption = Annotated[
    str, typer.Option("--trace-variant", help="workload variant: openb_pod_list_<NAME>.csv (e.g. gpuspec20)")
]


class _Result(Protocol):
    def to_json(self) -> dict[str, object]: ...


R = TypeVar("R", bound=_Result)


def _show(
    result: R, table: Callable[[R], Table], draw: Callable[[R, Path], None], as_json: bool, plot: Path | None
) -> None:
    """A simulation's result as JSON or a table, and its plot when one is asked for."""
    if as_json:
        emit_json(result.to_json())
    else:
        console.print(table(result))
    if plot is not None:
        draw(result, plot)


def _check_policy(policy: str) -> None:
    if policy not in SCORERS:
        raise typer.BadParameter(
            f"{policy!r} is not a scorer; choose one of {', '.join(SCORERS)}", param_hint="--policy"
        )


@sim_app.command()
def fill(
    trace: TraceOption = None,
    policy: PolicyOption = "fgd",
    max_demand: Annotated[
        float, typer.Option(min=0.1, max=5.0, help="stop when arrived GPU demand reaches this share")
    ] = 1.3,
    as_json: JsonOpt = False,
    plot: PlotOption = None,
    limit: LimitOption = None,
    variant: VariantOption = DEFAULT_VARIANT,
) -> None:
    """Tasks arrive and stay: GPU allocation and fragmentation as demand passes 100% of capacity."""
    _check_policy(policy)
    settings = SchedulerSettings()
    try:
        loaded = load_trace(trace or settings.trace_dir, limit=limit, variant=variant)
        baselines = tuple(p for p in FILL_POLICIES if p != policy)
        result = run_fill(loaded, (policy, *baselines), max_demand=max_demand, seed=settings.sim_seed)
    except SchedulerError as error:
        fail(str(error))
    _show(result, fill_table, plot_fill, as_json, plot)


@sim_app.command()
def replay(
    trace: TraceOption = None,
    load: Annotated[
        float, typer.Option("--load", min=0.01, max=10.0, help="offered GPU load, × capacity")
    ] = 1.0,
    policy: PolicyOption = "fgd",
    as_json: JsonOpt = False,
    plot: PlotOption = None,
    limit: LimitOption = None,
    variant: VariantOption = DEFAULT_VARIANT,
) -> None:
    """Compressed arrivals at the given load: waits, completion times, utilisation, fairness, speed."""
    _check_policy(policy)
    settings = SchedulerSettings()
    try:
        loaded = load_trace(trace or settings.trace_dir, limit=limit, variant=variant)
        result = run_replay(loaded, load, replay_policies(policy), cycle_s=settings.cycle_interval_s)
    except SchedulerError as error:
        fail(str(error))
    _show(result, replay_table, plot_replay, as_json, plot)


@sim_app.command()
def matrix(
    trace: TraceOption = None,
    as_json: JsonOpt = False,
    plot: PlotOption = None,
    limit: LimitOption = None,
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            min=1,
            max=100,
            help="average over this many seeds (42, 43, ...; the FGD paper uses 10); 1: the sim_seed alone",
        ),
    ] = 1,
) -> None:
    """Every workload variant in the trace folder × every placement policy: one fill table."""
    settings = SchedulerSettings()
    chosen = (settings.sim_seed,) if seeds == 1 else tuple(range(42, 42 + seeds))
    try:
        result = run_matrix(trace or settings.trace_dir, FILL_POLICIES, seeds=chosen, limit=limit)
    except SchedulerError as error:
        fail(str(error))
    _show(result, matrix_table, plot_matrix, as_json, plot)
