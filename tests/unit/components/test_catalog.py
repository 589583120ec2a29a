"""Every built-in honours the contract with the model hub: full cards, formulas, exportable modules."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import torch

from components import BUILTINS, Trained, builtin
from deploy.centre.oip import encode_request
from model_hub.card import Card
from tests.unit.components.conftest import SMALL, run_both

NUMPY = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "BOOL": np.bool_, "BYTES": np.object_}


def test_builtins_are_the_components_of_issue_5() -> None:
    names = [c.name for c in BUILTINS]
    assert len(set(names)) == len(names) == len(SMALL)
    assert set(names) == set(SMALL)
    assert builtin("energy_forecast") is BUILTINS[names.index("energy_forecast")]
    with pytest.raises(ValueError, match="built-ins are"):
        builtin("astrology")


@pytest.mark.parametrize("name", list(SMALL))
def test_card_is_complete_and_round_trips(name: str, train_small: Callable[[str], Trained]) -> None:
    card = train_small(name).card
    assert card.name == name
    assert Card.parse(json.loads(card.to_json())) == card
    assert card.display.zh and card.display.en and card.intended_use and card.limitations
    assert card.metrics and all(m.baseline is not None and np.isfinite(m.value) for m in card.metrics)
    assert card.visibility.value == "public"  # shared through the capability centre


@pytest.mark.parametrize("name", list(SMALL))
def test_example_request_gives_the_card_outputs(name: str, train_small: Callable[[str], Trained]) -> None:
    result = train_small(name)
    example = builtin(name).example()
    assert list(example) == [s.name for s in result.card.inputs]
    for spec in result.card.inputs:
        arr = np.asarray(example[spec.name])
        assert arr.dtype == NUMPY[spec.datatype], spec.name
        assert arr.ndim == len(spec.shape) and all(
            d in (-1, n) for d, n in zip(spec.shape, arr.shape, strict=True)
        )
    body = json.loads(encode_request(example).body)  # a valid OIP body, in the card's datatypes
    assert [(t["name"], t["datatype"]) for t in body["inputs"]] == [
        (s.name, s.datatype) for s in result.card.inputs
    ]
    if result.formula is not None:
        module, _, function = result.formula.partition(":")
        compute = getattr(importlib.import_module(module), function)
        params = json.loads(json.dumps(result.parameters))  # only what survives JSON reaches the runtime
        outputs = compute(example, params)
    else:
        assert result.torch_module is not None
        with torch.no_grad():
            raw = result.torch_module(*(torch.from_numpy(example[s.name]) for s in result.card.inputs))
        outputs = {s.name: t.numpy() for s, t in zip(result.card.outputs, raw, strict=True)}
    assert list(outputs) == [s.name for s in result.card.outputs]
    rows = len(next(iter(example.values())))
    for spec in result.card.outputs:
        assert outputs[spec.name].dtype == NUMPY[spec.datatype], spec.name
        assert outputs[spec.name].shape[0] == rows and outputs[spec.name].ndim == len(spec.shape)


@pytest.mark.parametrize(
    "name", [n for n in SMALL if n not in ("carbon_accounting", "industry_chain_graph", "capacity_matching")]
)
def test_torch_components_export_with_the_legacy_exporter(
    name: str, train_small: Callable[[str], Trained]
) -> None:
    result = train_small(name)
    assert result.sample_inputs is not None
    torch_out, onnx_out = run_both(result, result.sample_inputs)
    for a, b in zip(torch_out, onnx_out, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-3)


def test_training_is_deterministic_for_a_seed() -> None:
    a = SMALL["energy_forecast"].train(seed=3).card.metrics
    b = SMALL["energy_forecast"].train(seed=3).card.metrics
    assert [m.value for m in a] == [m.value for m in b]


def test_formula_modules_load_without_torch() -> None:
    # The formula runtime imports only the formula module; torch would cost seconds and memory per replica.
    code = (
        "import sys; import components.carbon_accounting.formula, components.industry_chain_graph.formula, "
        "components.capacity_matching.formula; sys.exit('torch' in sys.modules or 'sklearn' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_training_job_finds_trainable_components_and_their_table() -> None:
    from components.catalog import trainable

    component = trainable("process_quality")
    with pytest.raises(ValueError, match="no trainable network; trainable: process_quality"):
        trainable("carbon_accounting")
    table = component.synthetic(50, seed=3)
    assert tuple(table.columns) == component.columns
    assert table.equals(component.synthetic(50, seed=3))
    # Ray Train hands batches over as torch tensors by column; a table gives numpy columns: same tensors.
    as_torch = {name: torch.from_numpy(table[name].to_numpy()) for name in component.columns}
    for a, b in zip(component.tensors(table), component.tensors(as_torch), strict=True):
        assert torch.equal(a, b)
    net = component.network()
    loss = component.loss(component.training_view(net), component.tensors(table))
    assert loss.ndim == 0 and float(loss.detach()) > 0
