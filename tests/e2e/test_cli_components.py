from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml

from model_hub import HubSettings, Registry
from tests import onnx_models
from tests.cards import card_data, make_card
from tests.e2e.conftest import Brain


def write_card(path: Path, **overrides: object) -> Path:
    path.write_text(yaml.safe_dump(card_data(**overrides), allow_unicode=True), encoding="utf-8")
    return path


def test_register_all_four_ways_then_find_by_kind_and_industry(brain: Brain, tmp_path: Path) -> None:
    # ONNX file
    onnx.save(onnx_models.linear(), str(tmp_path / "linear.onnx"))
    brain(
        "components",
        "register",
        "--card",
        str(write_card(tmp_path / "a.yaml", name="onnx-linear")),
        "--onnx",
        str(tmp_path / "linear.onnx"),
        "--promote",
        "production",
    )
    # torch module from a factory in the user's own package, weights as a state_dict
    pkg = tmp_path / "pkgs" / "userpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "import torch\n\n\ndef build():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path / "pkgs"))
    import torch
    import userpkg  # type: ignore[import-not-found]

    torch.save(userpkg.build().state_dict(), tmp_path / "weights.pt")
    brain(
        "components",
        "register",
        "--card",
        str(write_card(tmp_path / "b.yaml", name="torch-mlp", industries=["high-end-equipment"])),
        "--torch",
        "userpkg:build",
        "--weights",
        str(tmp_path / "weights.pt"),
    )
    # scikit-learn estimator
    import joblib
    from sklearn.ensemble import RandomForestRegressor

    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    joblib.dump(RandomForestRegressor(n_estimators=5, random_state=0).fit(x, x[:, 0]), tmp_path / "rf.joblib")
    brain(
        "components",
        "register",
        "--card",
        str(write_card(tmp_path / "c.yaml", name="sk-forest", kind="knowledge")),
        "--sklearn",
        str(tmp_path / "rf.joblib"),
    )
    # formula
    (tmp_path / "params.json").write_text('{"factor": 3}')
    out = brain(
        "components",
        "register",
        "--card",
        str(
            write_card(
                tmp_path / "d.yaml",
                name="sum-formula",
                kind="mechanism",
                industries=["transport"],
                display={"zh": "碳排放核算", "en": "Sum"},
            )
        ),
        "--formula",
        "tests.formulas:scale",
        "--params",
        str(tmp_path / "params.json"),
        "--json",
    )
    assert json.loads(out.stdout)["format"] == "formula"

    listed = json.loads(
        brain("components", "list", "--kind", "process", "--kind", "mechanism", "--json").stdout
    )
    assert [i["name"] for i in listed["items"]] == ["onnx-linear", "sum-formula", "torch-mlp"]
    by_industry = json.loads(brain("components", "list", "--industry", "high-end-equipment", "--json").stdout)
    assert [i["name"] for i in by_industry["items"]] == ["torch-mlp"]
    by_text = json.loads(brain("components", "list", "-q", "碳排", "--json").stdout)
    assert [i["name"] for i in by_text["items"]] == ["sum-formula"]
    table = brain("components", "list").stdout
    assert "sk-forest" in table and "知识" in table


def test_version_lifecycle_from_the_cli(brain: Brain, tmp_path: Path) -> None:
    card = write_card(tmp_path / "card.yaml")
    for seed in range(2):
        onnx.save(onnx_models.linear(seed=seed), str(tmp_path / f"m{seed}.onnx"))
        args = [
            "components",
            "register",
            "--card",
            str(card),
            "--onnx",
            str(tmp_path / f"m{seed}.onnx"),
            "--training-job",
            f"job-{seed}",
        ]
        brain(*args, *(["--new-version"] if seed else []))
    brain("components", "promote", "reactor-quality", "1")
    brain("components", "promote", "reactor-quality", "2")
    rolled = json.loads(brain("components", "rollback", "reactor-quality", "--json").stdout)
    assert rolled["version"] == 1 and rolled["aliases"] == ["production"]
    shown = json.loads(brain("components", "show", "reactor-quality", "--json").stdout)
    assert shown["card"]["display"]["zh"] == "反应釜质量预测"
    assert [v["lineage"] for v in shown["versions"]] == [{"training_job": "job-0"}, {"training_job": "job-1"}]
    brain("components", "deprecate", "reactor-quality", "--version", "2")
    exported = json.loads(
        brain("components", "export", "reactor-quality", "--dest", str(tmp_path / "out"), "--json").stdout
    )
    assert (Path(exported["path"]) / "model.onnx").is_file()

    # serving policy: options not given keep their values; a bad one is one clear line
    brain("components", "serving", "reactor-quality", "--max-batch-size", "16")
    policy = json.loads(
        brain(
            "components", "serving", "reactor-quality", "--dedicated", "--min-replicas", "0", "--json"
        ).stdout
    )
    assert (policy["max_batch_size"], policy["dedicated"], policy["min_replicas"]) == (16, True, 0)
    bad = brain("components", "serving", "reactor-quality", "--min-replicas", "5", check=False)
    assert bad.returncode != 0 and "min_replicas (5) is above max_replicas (1)" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    shown = brain("components", "serving", "reactor-quality").stdout
    assert "up to 16 rows" in shown and "its own deployment, 0-1 replicas" in shown


def test_bad_input_gets_one_clear_line_and_no_traceback(brain: Brain, tmp_path: Path) -> None:
    onnx.save(onnx_models.linear(), str(tmp_path / "m.onnx"))
    bad = write_card(tmp_path / "bad.yaml", industries=["steel"], kind="magic")
    proc = brain(
        "components", "register", "--card", str(bad), "--onnx", str(tmp_path / "m.onnx"), check=False
    )
    assert proc.returncode == 2
    assert "unknown industry 'steel'" in proc.stderr and "kind" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout

    good = write_card(tmp_path / "good.yaml")
    brain("components", "register", "--card", str(good), "--onnx", str(tmp_path / "m.onnx"))
    proc = brain(
        "components", "register", "--card", str(good), "--onnx", str(tmp_path / "m.onnx"), check=False
    )
    assert proc.returncode == 2 and "already registered" in proc.stderr

    (tmp_path / "p.pkl").write_bytes(b"\x80\x04.")
    public = write_card(tmp_path / "pub.yaml", name="pickled", visibility="public")
    proc = brain(
        "components", "register", "--card", str(public), "--file", str(tmp_path / "p.pkl"), check=False
    )
    assert proc.returncode == 2 and "private" in proc.stderr

    proc = brain("components", "show", "nope", check=False)
    assert proc.returncode == 2 and "'nope' is not registered" in proc.stderr
    proc = brain("components", "register", "--card", str(good), check=False)
    assert proc.returncode == 2 and "exactly one of" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_keep_torch_from_the_cli(brain: Brain, tmp_path: Path) -> None:
    card = write_card(tmp_path / "card.yaml", name="refiner")

    def register(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return brain("components", "register", "--card", str(card), *args, check=check)

    out = register(
        "--torch", "tests.torch_modules:refiner", "--config", '{"features": 4}', "--keep-torch", "--json"
    )
    assert json.loads(out.stdout)["format"] == "torch"
    exported = json.loads(
        brain("components", "export", "refiner", "--dest", str(tmp_path / "out"), "--json").stdout
    )
    assert sorted(p.name for p in Path(exported["path"]).iterdir()) == [
        "card.json",
        "manifest.json",
        "torch.json",
        "weights.safetensors",
    ]
    # a factory outside the allowed packages, a config that is not an object, --keep-torch without
    # --torch: one clear line each
    bad = register("--torch", "torch.nn:Identity", "--keep-torch", check=False)
    assert bad.returncode != 0 and "outside the allowed packages" in bad.stderr
    bad = register("--torch", "tests.torch_modules:refiner", "--config", "[4]", "--keep-torch", check=False)
    assert bad.returncode == 2 and "must be a JSON object" in bad.stderr
    bad = register("--onnx", "x.onnx", "--keep-torch", check=False)
    assert bad.returncode == 2 and "go with --torch" in bad.stderr


@pytest.mark.slow  # three `brain` processes: 25 s on the loaded 2-core machine
def test_register_a_pipeline_from_the_cli(brain: Brain, brain_env: dict[str, str], tmp_path: Path) -> None:
    x = {"name": "x", "datatype": "FP64", "shape": [-1, 3]}
    y = {"name": "y", "datatype": "FP64", "shape": [-1, 1]}
    z = {"name": "z", "datatype": "FP64", "shape": [-1, 1]}
    # The steps are registered in-process (the other tests register from the CLI), in the same home.
    registry = Registry(
        HubSettings(home=Path(brain_env["BRAIN_HOME"]), formula_packages=["components", "tests"])
    )
    try:
        for name, formula, inputs, outputs in (
            ("cli-scale", "tests.formulas:scale", [x], [y]),
            ("cli-root", "tests.formulas:root", [y], [z]),
        ):
            card = make_card(name=name, kind="mechanism", inputs=inputs, outputs=outputs)
            registry.register_formula(card, formula, {"factor": 2.0})
    finally:
        registry.close()
    spec = card_data(name="cli-chain", kind="mechanism", inputs=[x])
    spec.pop("outputs")
    spec["steps"] = [
        {"name": "scale", "component": "cli-scale", "inputs": {"x": "input.x"}},
        {"name": "root", "component": "cli-root", "inputs": {"y": "scale.y"}},
    ]
    spec["outputs"] = [{"name": "z", "from": "root.z"}]
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    out = brain("components", "register", "--pipeline", str(path), "--promote", "production")
    assert "registered pipeline cli-chain version 1: scale (cli-scale) → root (cli-root)" in out.stdout
    listed = json.loads(brain("components", "list", "--json").stdout)
    chain = next(i for i in listed["items"] if i["name"] == "cli-chain")
    assert chain["pipeline"] == {"steps": ["scale: cli-scale", "root: cli-root"]}

    spec["name"] = "cli-broken"
    spec["steps"][1]["inputs"] = {"y": "input.x"}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    proc = brain("components", "register", "--pipeline", str(path), check=False)
    assert proc.returncode == 2, proc.stdout
    assert "input.x -> root.y: FP64[-1,3] vs FP64[-1,1]" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
