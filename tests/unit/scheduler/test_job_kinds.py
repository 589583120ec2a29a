"""Job kinds and node-group pools as users write them: each bad spec gets an error that says what to do."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from pydantic import ValidationError

from scheduler.errors import SpecInvalid
from scheduler.spec import ClusterPoolSpec, JobRequest

GOVERNANCE: dict[str, Any] = {
    "input": {"path": "/data/meters.csv"},
    "output": "/data/clean",
    "schema": {"meter": "string", "temperature": "float", "power": "float"},
    "units": [{"column": "temperature", "unit_column": "temp_unit", "to": "degC"}],
    "ranges": {"power": {"min": 0, "max": 5000}},
    "dedupe_on": ["meter"],
}


def job(**fields: Any) -> JobRequest:
    return JobRequest.model_validate({"id": "j1", "tenant": "t", **fields})


def refused(fields: dict[str, Any], *fragments: str) -> None:
    with pytest.raises(ValidationError) as info:
        job(**fields)
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, text


# Whoever composes the platform registers the programs; the scheduler knows none of its own.
PROGRAMS = {
    "training": "jobs.train",
    "batch-inference": "jobs.batch_inference",
    "governance": "jobs.governance",
}


def test_a_kind_without_a_registered_program_is_refused_with_the_kinds_offered() -> None:
    request = job(kind="governance", governance=GOVERNANCE)
    with pytest.raises(SpecInvalid) as info:
        request.command("/py", {"training": "jobs.train"})
    text = str(info.value)
    assert "kind governance is not offered" in text and "entrypoint, training" in text, text


def test_an_entrypoint_job_is_the_default_and_runs_its_own_command() -> None:
    request = job(entrypoint="/venv/bin/python x.py")
    assert request.kind == "entrypoint" and request.command("/py", PROGRAMS) == "/venv/bin/python x.py"


def test_a_governance_job_runs_the_platform_program_with_its_parameters() -> None:
    request = job(kind="governance", governance=GOVERNANCE)
    argv = shlex.split(request.command("/opt/venv/bin/python", PROGRAMS))
    assert argv[:3] == ["/opt/venv/bin/python", "-m", "jobs.governance"]
    assert argv[argv.index("--job-id") + 1] == "j1"
    params = json.loads(argv[argv.index("--params") + 1])
    assert params["schema"]["temperature"] == "float" and params["input"]["path"] == "/data/meters.csv"
    # Stored and read back (the store keeps the request as JSON).
    again = JobRequest.model_validate_json(request.model_dump_json())
    assert again.command("/py", PROGRAMS) == request.command("/py", PROGRAMS)


def test_batch_inference_and_training_specs() -> None:
    inference = job(
        kind="batch-inference",
        **{
            "batch-inference": {
                "component": "process_quality",
                "input": {"path": "/d/in.parquet"},
                "output": "/d/out",
                "columns": {"process_parameters": ["t", "p", "r", "tau", "age"]},
            }
        },
    )
    assert "jobs.batch_inference" in inference.command("/py", PROGRAMS)
    training = job(
        kind="training",
        bundles=[{"cpu": 1}, {"cpu": 1}],
        training={"component": "process_quality", "data": {"synthetic": {"rows": 500}}, "epochs": 3},
    )
    argv = shlex.split(training.command("/py", PROGRAMS))
    assert argv[:3] == ["/py", "-m", "jobs.train"]
    params = json.loads(argv[argv.index("--params") + 1])
    assert params["data"] == {"synthetic": {"rows": 500, "seed": 0}} and params["register"] is True
    assert JobRequest.model_validate_json(inference.model_dump_json()).params == inference.params


@pytest.mark.parametrize(
    ("fields", "fragments"),
    [
        ({}, ["needs an entrypoint"]),
        ({"kind": "training"}, ["needs its parameters under training:"]),
        ({"kind": "cooking", "entrypoint": "x"}, ["kind"]),
        ({"kind": "governance", "governance": GOVERNANCE, "entrypoint": "x"}, ["drop entrypoint"]),
        ({"entrypoint": "x", "governance": GOVERNANCE}, ["set kind: governance"]),
        (
            {"kind": "governance", "governance": GOVERNANCE, "training": {"component": "a", "data": {}}},
            ["exactly one data source"],
        ),
        ({"kind": "training", "training": {"component": "a", "data": {}}}, ["exactly one data source"]),
        (
            {"kind": "training", "training": {"component": "a", "data": {"synthetic": {}}, "epoch": 3}},
            ["epoch", "Extra inputs are not permitted"],
        ),
        (
            {"kind": "training", "training": {"component": "a", "data": {"table": {"path": "/d/x.xlsx"}}}},
            ["cannot tell the format", ".csv or .parquet"],
        ),
        ({"kind": "governance", "governance": {**GOVERNANCE, "schema": {}}}, ["schema"]),
        (
            {"kind": "governance", "governance": {**GOVERNANCE, "dedupe_on": ["site"]}},
            ["dedupe_on[site]: not a column of schema"],
        ),
        (
            {"kind": "governance", "governance": {**GOVERNANCE, "ranges": {"power": {"min": 9, "max": 1}}}},
            ["min 9 is above max 1"],
        ),
        (
            {"kind": "governance", "governance": {**GOVERNANCE, "ranges": {"meter": {"min": 0}}}},
            ["ranges.meter: the column is string, not numeric"],
        ),
        (
            {
                "kind": "governance",
                "governance": {**GOVERNANCE, "units": [{"column": "power", "unit": "degF", "to": "kW"}]},
            },
            ["degF (temperature) does not convert to kW (power)"],
        ),
        (
            {
                "kind": "governance",
                "governance": {**GOVERNANCE, "units": [{"column": "power", "unit": "hp", "to": "kW"}]},
            },
            ["unit 'hp' is unknown"],
        ),
        (
            {
                "kind": "batch-inference",
                "batch-inference": {
                    "component": "c",
                    "input": {"path": "/in.csv"},
                    "output": "/o",
                    "columns": {"x": []},
                },
            },
            ["columns.x is an empty list"],
        ),
    ],
)
def test_bad_job_specs_get_clear_errors(fields: dict[str, Any], fragments: list[str]) -> None:
    refused(fields, *fragments)


def pool(**fields: Any) -> ClusterPoolSpec:
    return ClusterPoolSpec.model_validate(
        {"name": "qd-gpu", "city": "qingdao", "address": "http://h:8265", **fields}
    )


def test_a_pool_may_be_a_node_group_by_resource_or_labels() -> None:
    by_resource = pool(node_group={"resource": "pool_qingdao_gpu"}).node_group
    assert by_resource is not None
    assert by_resource.selects({"CPU": 2, "pool_qingdao_gpu": 1}, {})
    assert not by_resource.selects({"CPU": 2}, {"group": "qingdao"})
    by_labels = pool(node_group={"labels": {"group": "qingdao"}}).node_group
    assert by_labels is not None
    assert by_labels.selects({}, {"group": "qingdao", "ray.io/node-id": "x"})
    assert not by_labels.selects({}, {"group": "jinan"})


@pytest.mark.parametrize(
    ("group", "fragment"),
    [
        ({}, "exactly one of resource"),
        ({"resource": "a", "labels": {"k": "v"}}, "exactly one of resource"),
        ({"resource": "CPU"}, "is on every node"),
        ({"labels": {}}, "labels"),
        ({"resource": "x", "zone": "y"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_node_groups_get_clear_errors(group: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        pool(node_group=group)
    assert fragment in str(info.value)


def test_ray_train_workers_ask_for_what_every_bundle_has(monkeypatch: pytest.MonkeyPatch) -> None:
    from scheduler.kinds.runtime import JobResources

    monkeypatch.setenv(
        "BRAIN_BUNDLES", json.dumps([{"CPU": 2, "memory": 1024, "GPU": 0}, {"CPU": 1, "memory": 4096}])
    )
    monkeypatch.setenv("BRAIN_STRATEGY", "SPREAD")
    monkeypatch.setenv("BRAIN_NODE_RESOURCE", "group_a")
    resources = JobResources.from_env()
    assert resources.strategy == "SPREAD"
    assert resources.worker_resources() == {"CPU": 1.0, "memory": 1024.0, "group_a": 0.001}
    monkeypatch.delenv("BRAIN_BUNDLES")
    assert JobResources.from_env().worker_resources() == {"CPU": 1.0, "group_a": 0.001}


def test_the_job_specs_in_the_architecture_doc_are_valid() -> None:
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[3] / "docs" / "architecture.md").read_text(encoding="utf-8")
    specs = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    kinds = [JobRequest.model_validate({"id": "doc", **s}).kind for s in specs if "kind" in s]
    assert sorted(kinds) == ["batch-inference", "governance", "training"]
