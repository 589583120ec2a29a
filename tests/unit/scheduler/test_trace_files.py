"""The trace loader on small hand-written files: every variant's columns, and every malformed file
refused with the file, the line and what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler import TraceInvalid
from scheduler.sim import load_trace, run_fill, run_replay, trace_variants

NODES = "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,0,\nn1,64000,262144,2,T4\nn2,96000,393216,8,G2\n"
FULL = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)
PODS = FULL + (
    "p0,4000,8192,1,500,T4|G2,LS,Running,0,100,0\n"
    "p1,8000,8192,1,1000,T4,BE,Running,5,50,\n"
    "p2,2000,4096,0,0,,Burstable,Running,7,70,8\n"
)


def folder(tmp_path: Path, pods: str = PODS, nodes: str = NODES, variant: str = "default") -> Path:
    (tmp_path / "openb_node_list_all_node.csv").write_text(nodes)
    (tmp_path / f"openb_pod_list_{variant}.csv").write_text(pods)
    return tmp_path


def refused(path: Path, line: int, *words: str, variant: str = "default") -> TraceInvalid:
    with pytest.raises(TraceInvalid) as caught:
        load_trace(path, variant=variant)
    message = str(caught.value)
    assert caught.value.line == line, message
    for word in words:
        assert word in message, message
    assert caught.value.status == 422
    return caught.value


def test_a_full_file_loads_with_gpu_spec_as_a_set(tmp_path: Path) -> None:
    trace = load_trace(folder(tmp_path))
    first, second, third = trace.tasks
    assert first.bundle.gpu_types == frozenset({"T4", "G2"}) and first.bundle.gpu_milli == 500
    assert second.bundle.gpu_types == frozenset({"T4"}) and second.runtime == 45  # unscheduled: alive time
    assert third.bundle.gpu_types is None and third.priority == 1 and third.runtime == 62
    assert trace.missing_times == ()


def test_a_variant_without_times_fills_but_does_not_replay(tmp_path: Path) -> None:
    pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,8192,8,1000\np1,1000,2048,1,250\n"
    path = folder(tmp_path, pods, variant="multigpu20")
    folder(tmp_path)
    assert trace_variants(path) == ["default", "multigpu20"]
    trace = load_trace(path, variant="multigpu20")
    assert [t.bundle.gpu for t in trace.tasks] == [8, 1] and trace.tasks[0].priority == 0
    result = run_fill(trace, ("fgd", "first-fit"), max_demand=0.5, step=0.25)
    assert [c.policy for c in result.curves] == ["fgd", "first-fit"]
    with pytest.raises(TraceInvalid, match="creation_time, deletion_time, scheduled_time") as caught:
        run_replay(trace, 1.0)
    assert "openb_pod_list_multigpu20.csv" in str(caught.value) and "fill" in str(caught.value)


def test_missing_column_names_the_column(tmp_path: Path) -> None:
    pods = "name,cpu_milli,num_gpu,gpu_milli\np0,1000,0,0\n"
    refused(folder(tmp_path, pods), 1, "openb_pod_list_default.csv", "memory_mib", "header")


def test_missing_node_column_names_the_node_file(tmp_path: Path) -> None:
    refused(
        folder(tmp_path, nodes="sn,cpu_milli,gpu,model\nn0,1000,0,\n"),
        1,
        "openb_node_list_all_node",
        "memory_mib",
    )


def test_non_numeric_value_names_line_and_column(tmp_path: Path) -> None:
    pods = FULL + "p0,4000,8192,1,500,,LS,Running,0,100,0\np1,lots,8192,0,0,,LS,Running,0,100,0\n"
    refused(folder(tmp_path, pods), 3, "cpu_milli='lots'", "whole number")


def test_non_numeric_time(tmp_path: Path) -> None:
    pods = FULL + "p0,4000,8192,1,500,,LS,Running,yesterday,100,0\n"
    refused(folder(tmp_path, pods), 2, "creation_time", "a number")


def test_negative_resource(tmp_path: Path) -> None:
    pods = FULL + "p0,-4000,8192,1,500,,LS,Running,0,100,0\n"
    refused(folder(tmp_path, pods), 2, "cpu_milli=-4000", "negative", "zero or more")


def test_negative_node_capacity(tmp_path: Path) -> None:
    refused(folder(tmp_path, nodes=NODES + "n3,32000,-1,0,\n"), 5, "openb_node_list_all_node", "memory_mib")


def test_gpu_share_out_of_range(tmp_path: Path) -> None:
    pods = FULL + "p0,4000,8192,1,1500,,LS,Running,0,100,0\n"
    refused(folder(tmp_path, pods), 2, "gpu_milli=1500")


def test_row_with_too_few_cells(tmp_path: Path) -> None:
    pods = FULL + "p0,4000,8192,1\n"
    refused(folder(tmp_path, pods), 2, "columns")


def test_node_list_that_does_not_match_the_pods(tmp_path: Path) -> None:
    pods = FULL + "p0,4000,8192,1,500,H100|B200,LS,Running,0,100,0\n"
    refused(folder(tmp_path, pods), 2, "H100|B200", "node list", "T4")


def test_node_with_gpus_but_no_model(tmp_path: Path) -> None:
    refused(folder(tmp_path, nodes=NODES + "n3,32000,1024,4,\n"), 5, "n3", "model")


def test_duplicate_node(tmp_path: Path) -> None:
    refused(folder(tmp_path, nodes=NODES + "n1,32000,1024,0,\n"), 5, "n1", "twice", "line 3")


def test_matrix_runs_every_variant_through_every_policy(tmp_path: Path) -> None:
    from scheduler.sim import FILL_POLICIES, matrix_table, run_matrix

    path = folder(tmp_path)
    folder(
        tmp_path, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,8192,8,1000\n", variant="multigpu20"
    )
    result = run_matrix(path)
    assert result.variants == ["default", "multigpu20"]
    assert [(r.variant, r.policy) for r in result.rows] == [
        (v, p) for v in result.variants for p in FILL_POLICIES
    ]
    for row in result.rows:
        assert set(row.allocated) == {"90%", "100%", "110%"}
        assert 0 <= row.fragmented_gpus <= row.unallocated_gpus + 1e-6
    assert result.best_baseline("default").policy != "fgd"
    assert matrix_table(result).row_count == len(result.rows)


def test_matrix_over_several_seeds_keeps_every_seed_and_their_spread(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from scheduler.sim import FILL_POLICIES, matrix_table, run_matrix

    # Shares that pack well in one arrival order and badly in another: the seeds must differ.
    pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n" + "".join(
        f"p{i},1000,1024,1,{share}\n" for i, share in enumerate([600, 500, 400, 700, 300, 1000] * 3)
    )
    result = run_matrix(folder(tmp_path, pods), seeds=(42, 43, 44))
    assert result.seeds == (42, 43, 44)
    assert len(result.per_seed) == 3 * len(FILL_POLICIES)
    assert len(result.rows) == len(FILL_POLICIES)
    for row in result.rows:
        runs = [r.allocated["100%"] for r in result.per_seed if r.policy == row.policy]
        assert row.seeds == 3
        assert row.allocated["100%"] == pytest.approx(sum(runs) / 3)
        assert row.allocated_min == min(runs) and row.allocated_max == max(runs)
        assert (row.allocated_std > 0) == (min(runs) < max(runs))
    assert 0 <= result.seeds_won("default") <= 3
    out = io.StringIO()
    Console(file=out, width=200).print(matrix_table(result))
    assert "mean of 3 seeds (42-44)" in out.getvalue() and " ± " in out.getvalue()
    with pytest.raises(ValueError, match="at least one seed"):
        run_matrix(tmp_path, seeds=())
