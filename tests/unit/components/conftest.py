"""Shared fixtures: each component trained once per session with small settings (seconds, not minutes)."""

from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort
import pytest
import torch

from components import Trained
from components.capacity_matching.component import CapacityMatching
from components.carbon_accounting.component import CarbonAccounting
from components.energy_forecast.component import EnergyForecast
from components.equipment_health.component import EquipmentHealth
from components.industry_chain_graph.component import IndustryChainGraph
from components.process_quality.component import ProcessQuality, ProcessSettingRecommender

SMALL = {
    "carbon_accounting": CarbonAccounting(evaluation_ledgers=50),
    "process_quality": ProcessQuality(samples=2000, epochs=40),
    "process_setting_recommender": ProcessSettingRecommender(samples=2000, epochs=40, scenarios=10),
    "equipment_health": EquipmentHealth(windows_per_class=120, test_windows_per_class=50, epochs=40),
    "energy_forecast": EnergyForecast(sites=4, epochs=30),
    "industry_chain_graph": IndustryChainGraph(enterprises=300),
    "capacity_matching": CapacityMatching(suppliers=60, rounds=5, orders_per_round=30),
}


@pytest.fixture(scope="session")
def trained() -> dict[str, Trained]:
    return {}


@pytest.fixture(scope="session")
def train_small(trained: dict[str, Trained]):  # type: ignore[no-untyped-def]
    """Train a component with the small settings once and hand back the same result afterwards."""

    def train(name: str) -> Trained:
        if name not in trained:
            trained[name] = SMALL[name].train(seed=0)
        return trained[name]

    return train


def export_onnx(result: Trained) -> bytes:
    """Export as the model hub does: the legacy TorchScript exporter, card tensor names, dynamic batch."""
    assert result.torch_module is not None and result.sample_inputs is not None
    inputs = [s.name for s in result.card.inputs]
    outputs = [s.name for s in result.card.outputs]
    args = tuple(torch.from_numpy(result.sample_inputs[n]) for n in inputs)
    buffer = io.BytesIO()
    torch.onnx.export(
        result.torch_module.eval(),
        args,
        buffer,
        dynamo=False,
        input_names=inputs,
        output_names=outputs,
        dynamic_axes={n: {0: "batch"} for n in inputs + outputs},
        opset_version=17,
    )
    return buffer.getvalue()


def run_both(result: Trained, feed: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(torch outputs, onnxruntime outputs) for one feed, in the card's output order."""
    session = ort.InferenceSession(export_onnx(result), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [s.name for s in result.card.inputs]
    assert [o.name for o in session.get_outputs()] == [s.name for s in result.card.outputs]
    onnx_out = session.run(None, feed)
    assert result.torch_module is not None
    with torch.no_grad():
        torch_out = result.torch_module(*(torch.from_numpy(feed[s.name]) for s in result.card.inputs))
    if isinstance(torch_out, torch.Tensor):
        torch_out = (torch_out,)
    return [t.numpy() for t in torch_out], onnx_out
