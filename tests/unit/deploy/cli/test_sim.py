"""`brain sim`: the simulator's commands on a small trace folder (the policy itself: tests/unit/scheduler)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deploy.cli.sim import sim_app
from tests.unit.scheduler.test_trace_files import folder


def test_matrix_prints_every_variant_and_a_bad_variant_names_the_file_and_the_choices(tmp_path: Path) -> None:
    path = folder(tmp_path)
    folder(
        tmp_path, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,8192,8,1000\n", variant="multigpu20"
    )
    out = CliRunner(env={"COLUMNS": "200"}).invoke(sim_app, ["matrix", "--trace", str(path), "--json"])
    assert out.exit_code == 0, out.output
    assert '"multigpu20"' in out.output
    out = CliRunner().invoke(sim_app, ["fill", "--trace", str(path), "--trace-variant", "nope"])
    assert out.exit_code == 2 and "openb_pod_list_nope.csv" in out.output and "multigpu20" in out.output


def test_matrix_over_seeds_reports_every_seed_and_refuses_zero(tmp_path: Path) -> None:
    import json

    path = folder(tmp_path)
    out = CliRunner().invoke(sim_app, ["matrix", "--trace", str(path), "--json", "--seeds", "3"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["seeds"] == [42, 43, 44]
    assert {r["seed"] for r in result["per_seed"]} == {42, 43, 44}
    out = CliRunner().invoke(sim_app, ["matrix", "--trace", str(path), "--seeds", "0"])
    assert out.exit_code == 2 and "--seeds" in out.output
