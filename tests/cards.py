"""Card data for tests."""

from __future__ import annotations

from typing import Any

from model_hub import Card


def card_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "reactor-quality",
        "display": {"zh": "反应釜质量预测", "en": "Reactor quality prediction"},
        "kind": "process",
        "industries": ["high-end-chemicals"],
        "task": "regression",
        "owner": "lubei-chem",
        "license": "Apache-2.0",
        "visibility": "public",
        "intended_use": "Predict product purity from reactor settings.",
        "limitations": "Trained on synthetic data.",
        "metrics": [{"name": "mae", "value": 0.1, "baseline": 0.3, "higher_is_better": False}],
        "standards": ["GB/T 32150-2015"],
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}],
    }
    data.update(overrides)
    return data


def make_card(**overrides: Any) -> Card:
    return Card.parse(card_data(**overrides))
