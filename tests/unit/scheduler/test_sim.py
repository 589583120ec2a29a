"""The simulator on slices of the real trace (skipped, with the reason, when the trace is absent)."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from scheduler import GPU_MILLI, TraceNotFound
from scheduler.sim import (
    CITIES,
    Trace,
    compression_for,
    jain_index,
    load_trace,
    replay_policies,
    run_fill,
    run_replay,
    tenant_of,
    trace_available,
)
from scheduler.sim._fill import arrivals
from scheduler.sim._replay import offered_load
from tests.unit.scheduler.builders import TRACE_DIR, needs_trace


@pytest.fixture(scope="module")
def small_trace() -> Trace:
    """The first 600 tasks on every 12th node (128 nodes, about 500 GPUs)."""
    trace = load_trace(TRACE_DIR, limit=600)
    return replace(trace, nodes=trace.nodes[::12])


def test_jain_index_numbers() -> None:
    assert jain_index([1, 1, 1, 1]) == pytest.approx(1.0)
    assert jain_index([1, 0, 0, 0]) == pytest.approx(0.25)
    assert jain_index([1, 2]) == pytest.approx(9 / 10)


def test_tenant_rule_is_a_stable_crc32() -> None:
    name = "openb-pod-0000"
    assert tenant_of(name) == CITIES[zlib.crc32(name.encode()) % 16]
    assert len(CITIES) == 16 and CITIES[0] == "jinan"


def test_missing_trace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TraceNotFound, match="openb_pod_list_default.csv") as error:
        load_trace(tmp_path)
    assert error.value.status == 404


@needs_trace
def test_trace_loads_as_published() -> None:
    trace = load_trace(TRACE_DIR)
    assert len(trace.tasks) == 8152
    assert len(trace.nodes) in (1523, 1213)
    assert trace.gpu_capacity_milli == 6212 * GPU_MILLI
    first = trace.tasks[0]
    assert (first.bundle.cpu_milli, first.bundle.memory_mib, first.bundle.gpu, first.bundle.gpu_milli) == (
        12000,
        16384,
        1,
        1000,
    )
    assert first.runtime == 12537496 and first.priority == 2


@needs_trace
def test_fill_arrivals_mix_the_whole_pod_list(small_trace: Trace) -> None:
    # As the paper's Monte-Carlo experiment: every task once in a seeded random order, then resampled.
    # In file order, tasks a variant appends (multigpu20/30 put theirs last) would arrive only once the
    # cluster is nearly full.
    tasks = arrivals(small_trace, 1.2, seed=2023)
    first = tasks[: len(small_trace.tasks)]
    assert sorted(t.name for t in first) == sorted(t.name for t in small_trace.tasks)
    assert [t.name for t in first] != [t.name for t in small_trace.tasks]
    assert [t.name for t in arrivals(small_trace, 1.2, seed=2023)] == [t.name for t in tasks]
    last = {t.name for t in small_trace.tasks[-60:]}  # the file's last tenth
    assert sum(t.name in last for t in first[: len(first) // 2]) >= 15  # about half come in the first half


@needs_trace
def test_fill_on_a_slice(small_trace: Trace) -> None:
    result = run_fill(small_trace, ("fgd", "best-fit"), max_demand=1.2, step=0.1)
    capacity = small_trace.gpu_capacity_milli / GPU_MILLI
    assert result.gpu_capacity == capacity
    tasks = arrivals(small_trace, 1.2, seed=2023)
    assert sum(t.bundle.gpu_total_milli for t in tasks) >= 1.2 * small_trace.gpu_capacity_milli
    for curve in result.curves:
        assert [round(p.arrived_demand, 6) for p in curve.points][:3] == [0.1, 0.2, 0.3]
        shares = [p.allocated_share for p in curve.points]
        assert shares == sorted(shares)  # tasks never leave: allocation only grows
        for point in curve.points:
            assert point.unallocated_gpus == pytest.approx(capacity * (1 - point.allocated_share))
            assert 0 <= point.fragmented_gpus <= point.unallocated_gpus + 1e-6
        # Below 100% arrived demand some policy must place almost everything that arrived.
        assert curve.at(0.5).allocated_share == pytest.approx(0.5, abs=0.05)
        assert curve.at(1.2).allocated_share <= 1.0
    fgd, best = result.curves
    assert fgd.at(1.0).allocated_share >= best.at(1.0).allocated_share - 0.01
    # The offline packings at 100%: every policy placed some of the shares that arrived, and the room
    # it left is at least what the best packing of those shares would leave.
    arrived = result.arrived_shares
    assert arrived is not None and arrived.shares > 0
    ceiling = result.ceiling()
    assert ceiling is not None and 0.9 < ceiling <= 1.0
    for curve in result.curves:
        packed = curve.placed_shares
        assert packed is not None and 0 < packed.shares <= arrived.shares
        loss = curve.placement_loss_gpus()
        assert loss is not None and loss >= -1e-6
    json.dumps(result.to_json())


@needs_trace
def test_replay_on_a_slice(small_trace: Trace) -> None:
    factor, window, passes = compression_for(small_trace, 1.0)
    assert offered_load(small_trace, window, passes) == pytest.approx(1.0, rel=1e-3)
    assert passes == 2 and factor > 1
    result = run_replay(small_trace, 1.0, replay_policies("best-fit"))
    assert [r.policy for r in result.runs] == ["brain (best-fit)", "fifo + first-fit", "fifo + best-fit"]
    for run in result.runs:
        assert run.jobs == run.finished == 2 * len(small_trace.tasks)
        assert run.decisions == run.jobs  # no preemption in the replay: one admission per job
        assert 0 <= run.mean_wait_s <= run.p95_wait_s or run.mean_wait_s > run.p95_wait_s >= 0
        assert run.mean_jct_s >= run.mean_wait_s
        assert 0 < run.gpu_utilisation <= 1 and 0 < run.cpu_utilisation <= 1
        assert 1 / 16 <= run.jain_index <= 1
        assert run.decisions_per_s > 0
    brain, fifo, _ = result.runs
    assert brain.mean_wait_s <= fifo.mean_wait_s  # backfill never makes the average wait longer here
    json.dumps(result.to_json())


@needs_trace
def test_cli_runs_both_modes(tmp_path: Path) -> None:
    from deploy.cli.sim import sim_app

    runner = CliRunner(env={"COLUMNS": "200"})
    plot = tmp_path / "fill.png"
    out = runner.invoke(
        sim_app,
        [
            "fill",
            "--trace",
            str(TRACE_DIR),
            "--limit",
            "300",
            "--max-demand",
            "0.1",
            "--json",
            "--plot",
            str(plot),
        ],
    )
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert [c["policy"] for c in body["curves"]] == ["fgd", "best-fit", "first-fit", "dot-product"]
    assert plot.stat().st_size > 1000
    out = runner.invoke(sim_app, ["replay", "--trace", str(TRACE_DIR), "--limit", "300", "--load", "0.5"])
    assert out.exit_code == 0, out.output
    assert "fifo + first-fit" in out.output and "Jain" in out.output
    out = runner.invoke(sim_app, ["replay", "--trace", str(tmp_path), "--limit", "10"])
    assert out.exit_code == 2 and "lacks" in out.output
    out = runner.invoke(sim_app, ["fill", "--trace", str(TRACE_DIR), "--policy", "worst-fit"])
    assert out.exit_code != 0 and "not a scorer" in out.output


def test_windowed_load_falls_as_the_window_grows() -> None:
    if trace_available(TRACE_DIR) is not None:
        pytest.skip(f"the Alibaba GPU trace v2023 is not at {TRACE_DIR}")
    trace = load_trace(TRACE_DIR, limit=400)
    loads = [offered_load(trace, w) for w in (10.0, 100.0, 1000.0, 10000.0)]
    assert loads == sorted(loads, reverse=True)
    assert np.all(
        np.array(loads) <= sum(t.bundle.gpu_total_milli for t in trace.tasks) / trace.gpu_capacity_milli
    )
