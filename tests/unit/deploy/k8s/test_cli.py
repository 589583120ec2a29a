"""`brain deploy render-serve-config` and `render-manifests` (the Typer app the main CLI mounts)."""

from __future__ import annotations

from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema
from typer.testing import CliRunner

from deploy.cli.k8s import deploy_app
from scheduler.spec import PoolSpec
from tests.unit.deploy.k8s.conftest import CHART
from tests.unit.deploy.k8s.crd import assert_valid

runner = CliRunner()


def test_render_serve_config_to_stdout_and_file(tmp_path: Path) -> None:
    shown = runner.invoke(deploy_app, ["render-serve-config", "--replicas", "3"])
    assert shown.exit_code == 0, shown.output
    schema = ServeDeploySchema.model_validate(yaml.safe_load(shown.stdout))
    assert schema.applications[0].args["replicas"] == 3

    out = tmp_path / "serve" / "config.yaml"
    written = runner.invoke(deploy_app, ["render-serve-config", "--out", str(out)])
    assert written.exit_code == 0, written.output
    text = out.read_text(encoding="utf-8")
    assert "import_path: deploy.centre.app:application" in text


def test_render_serve_config_refuses_zero_replicas() -> None:
    result = runner.invoke(deploy_app, ["render-serve-config", "--replicas", "0"])
    assert result.exit_code == 2
    assert "--replicas 0: the capability centre needs at least 1 replica" in result.output


def test_render_manifests_from_the_chart_values(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    result = runner.invoke(
        deploy_app, ["render-manifests", "--values", str(CHART / "values.yaml"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "pools.yaml",
        "raycluster-jinan-regional.yaml",
        "raycluster-qingdao-marine.yaml",
        "rayservice-capability-centre.yaml",
    ]
    for name in names[1:]:
        assert_valid(yaml.safe_load((out / name).read_text(encoding="utf-8")))
    topology = yaml.safe_load((out / "pools.yaml").read_text(encoding="utf-8"))
    pools = [PoolSpec.model_validate(p) for p in topology["pools"]]
    assert [p.name for p in pools] == ["jinan-regional", "qingdao-marine"]
    assert pools[0].nodes[1].gpu_type == "A10"
    assert topology["addresses"]["jinan-regional"] == (
        "http://brain-jinan-regional-head-svc.industry-brain.svc:8265"
    )


def test_render_manifests_to_stdout_without_values() -> None:
    result = runner.invoke(deploy_app, ["render-manifests", "--release", "pilot"])
    assert result.exit_code == 0, result.output
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert documents[0]["metadata"]["name"] == "pilot-capability-centre"
    assert documents[-1] == {"pools": [], "addresses": {}}


def test_render_manifests_reports_bad_values(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("centres:\n  - name: x\n    city: atlantis\n    workerGroups: []\n", encoding="utf-8")
    result = runner.invoke(deploy_app, ["render-manifests", "--values", str(values)])
    assert result.exit_code == 2
    assert "centres.0.city: Value error" not in result.output
    assert "'atlantis' is not one of the 16 Shandong cities" in result.output
    assert "centres.0.workerGroups" in result.output


def test_render_manifests_reports_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(deploy_app, ["render-manifests", "--values", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read the values file" in result.output


def test_bad_release_name() -> None:
    result = runner.invoke(deploy_app, ["render-manifests", "--release", "Bad_Name"])
    assert result.exit_code == 2
    assert "release" in result.output


def test_the_chart_refuses_what_the_spec_does_not_check(tmp_path: Path) -> None:
    # Sections only the chart reads (mlflow, postgresql, …) are checked by the chart's schema, in Helm.
    values = tmp_path / "values.yaml"
    values.write_text("mlflow:\n  replica: 2\n", encoding="utf-8")
    result = runner.invoke(deploy_app, ["render-manifests", "--values", str(values)])
    assert result.exit_code == 2
    assert "the chart refused the values" in result.output
    assert "replica" in result.output


def test_render_serve_config_shows_what_the_release_runs() -> None:
    # The tracking URI is the release's own MLflow Service, as the chart installs it.
    result = runner.invoke(deploy_app, ["render-serve-config", "--release", "pilot"])
    assert result.exit_code == 0, result.output
    app = ServeDeploySchema.model_validate(yaml.safe_load(result.stdout)).applications[0]
    assert app.runtime_env["env_vars"]["BRAIN_MLFLOW_TRACKING_URI"] == "http://pilot-mlflow:5000"
