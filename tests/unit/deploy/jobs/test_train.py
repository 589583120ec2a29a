"""The training program's choices before any Ray: which built-in, which data source, which lineage."""

from __future__ import annotations

from typing import Any

import pytest

from components.catalog import builtin
from deploy.jobs.train import default_output, output_folder, run, snapshot_of
from scheduler.kinds.params import TrainingParams
from scheduler.kinds.runtime import JobResources


def params(component: str, data: dict[str, Any], **more: Any) -> TrainingParams:
    return TrainingParams.model_validate({"component": component, "data": data, **more})


def test_a_table_is_refused_for_a_built_in_that_trains_itself(tmp_path: Any) -> None:
    table = params("carbon_accounting", {"table": {"path": str(tmp_path / "plant.csv")}})
    with pytest.raises(SystemExit) as refused:
        run(table, "job-1", JobResources())
    message = str(refused.value)
    assert "carbon_accounting trains on its own generated data" in message
    assert "data: {synthetic: {seed: S}}" in message and "process_quality" in message
    assert not (tmp_path / "plant.csv").exists() and not default_output("job-1").exists()


def test_an_unknown_component_is_refused_naming_the_built_ins() -> None:
    with pytest.raises(
        SystemExit, match="no built-in component 'astrology'; built-ins are: carbon_accounting"
    ):
        run(params("astrology", {"synthetic": {"seed": 0}}), None, JobResources())


def test_lineage_snapshot_names_the_rows_only_where_they_count() -> None:
    synthetic = {"synthetic": {"seed": 4, "rows": 800}}
    assert snapshot_of(params("process_quality", synthetic), builtin("process_quality")) == (
        "synthetic-seed-4-rows-800"
    )
    assert (
        snapshot_of(params("carbon_accounting", synthetic), builtin("carbon_accounting"))
        == "synthetic-seed-4"
    )
    table = params("process_quality", {"table": {"path": "/data/batches.parquet"}})
    assert snapshot_of(table, builtin("process_quality")) == "/data/batches.parquet"


def test_the_output_folder_defaults_to_the_jobs_folder_of_the_hub(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("BRAIN_HOME", str(tmp_path))
    synthetic = {"synthetic": {"seed": 0}}
    assert (
        output_folder(params("carbon_accounting", synthetic), "job-7")
        == tmp_path.resolve() / "jobs" / "job-7"
    )
    given = params("carbon_accounting", synthetic, output=str(tmp_path / "run"))
    assert output_folder(given, "job-7") == tmp_path / "run"
