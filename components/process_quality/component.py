"""Process quality: the quality model and the setting recommender, their evaluations and cards.

They are two registered components because they answer different questions with different tensors
(settings → quality; bounds → settings), but the recommender embeds the very quality network that is
registered as `process_quality`, trained once: its ONNX graph carries the network's weights and the
search, so it is served by the ONNX runtime like any other model and needs no formula code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score

from components.base import LICENSE, OWNER, BuiltinComponent, Metrics, TrainableComponent, Trained
from components.process_quality import data
from components.process_quality.model import QualityNet, RawQuality, SettingRecommender
from components.training import fit, seed_everything
from model_hub.card import Card, Metric, Names, TensorSpec
from model_hub.taxonomy import Kind, Visibility

#: The quality model must cut the RMSE of the linear baseline by this fraction (acceptance margin).
RMSE_REDUCTION = 0.5
DEFECT_LIMIT = 0.1
INDUSTRIES = ["high-end-chemicals", "advanced-materials", "pharmaceuticals", "light-industry"]


TARGETS = ("quality", "defect")
"""Columns of a training table besides the process parameters: measured quality, off-spec label 0/1."""


@dataclass
class Fitted:
    net: QualityNet
    settings: np.ndarray
    quality: np.ndarray
    defect: np.ndarray
    metrics: Metrics
    test: pd.DataFrame

    @property
    def test_settings(self) -> np.ndarray:
        return self.test[list(data.PARAMETERS)].to_numpy(dtype=np.float32)


def synthetic_table(rows: int, seed: int) -> pd.DataFrame:
    """Reactor batches from the simulator: the process parameters, quality and the off-spec label."""
    settings, quality, defect = data.generate(rows, seed=seed)
    table = pd.DataFrame(settings, columns=list(data.PARAMETERS))
    table["quality"], table["defect"] = quality, defect
    return table


def _column(table: Mapping[str, Any], name: str) -> torch.Tensor:
    value = table[name]
    if isinstance(value, torch.Tensor):
        return value.to(torch.float32)
    return torch.from_numpy(np.array(value, dtype=np.float32))


def quality_tensors(table: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(settings [n, 5], quality [n], defect [n]) from a table's columns."""
    settings = torch.stack([_column(table, name) for name in data.PARAMETERS], dim=1)
    return settings, _column(table, "quality"), _column(table, "defect")


def quality_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Scaled MSE on quality plus the defect log-loss; `model` gives QualityNet's raw outputs."""
    out = model(batch[0])
    return torch.nn.functional.mse_loss(out[:, 0], batch[1] / 100.0) * 10.0 + (
        torch.nn.functional.binary_cross_entropy_with_logits(out[:, 1], batch[2])
    )


def evaluate_quality(net: torch.nn.Module, train: pd.DataFrame, test: pd.DataFrame) -> Metrics:
    """The network against linear (quality) and logistic (defect) regression fitted on `train`."""
    settings, quality, defect = (t.numpy() for t in quality_tensors(train))
    test_settings, test_quality, test_defect = (t.numpy() for t in quality_tensors(test))
    with torch.no_grad():
        predicted, probability = (t.numpy() for t in net(torch.from_numpy(test_settings)))
    linear = LinearRegression().fit(settings, quality).predict(test_settings)
    logistic = LogisticRegression(max_iter=2000).fit(settings, defect).predict_proba(test_settings)[:, 1]
    return {
        "quality_rmse": (
            float(np.sqrt(np.mean((predicted - test_quality) ** 2))),
            float(np.sqrt(np.mean((linear - test_quality) ** 2))),
        ),
        "defect_auc": (
            float(roc_auc_score(test_defect, probability)),
            float(roc_auc_score(test_defect, logistic)),
        ),
        "defect_brier": (
            float(np.mean((probability - test_defect) ** 2)),
            float(np.mean((logistic - test_defect) ** 2)),
        ),
    }


@lru_cache(maxsize=4)
def fitted(seed: int, samples: int, epochs: int) -> Fitted:
    """Train and evaluate the quality network once per setting, shared by both components."""
    component = ProcessQuality(samples, epochs)
    seed_everything(seed)
    train = component.synthetic(samples, seed)
    test = component.held_out(samples, seed)
    net = QualityNet()
    tensors = quality_tensors(train)
    fit(RawQuality(net), quality_loss, tensors, epochs=epochs, batch_size=64, lr=3e-3, seed=seed)
    metrics = evaluate_quality(net, train, test)
    settings, quality, defect = (t.numpy() for t in tensors)
    return Fitted(net, settings, quality, defect, metrics, test)


class ProcessQuality(TrainableComponent):
    name = "process_quality"
    columns = (*data.PARAMETERS, *TARGETS)

    def __init__(self, samples: int = 4000, epochs: int = 60) -> None:
        self.samples = samples
        self.epochs = epochs

    def train(self, seed: int = 0) -> Trained:
        result = fitted(seed, self.samples, self.epochs)
        return self.trained(result.net, result.metrics, self.samples, result.test)

    # --- what a training job needs (components.base.TrainableComponent) ----------------------------

    def synthetic(self, rows: int, seed: int) -> pd.DataFrame:
        return synthetic_table(rows, seed)

    def network(self) -> torch.nn.Module:
        return QualityNet()

    def training_view(self, network: torch.nn.Module) -> torch.nn.Module:
        assert isinstance(network, QualityNet)
        return RawQuality(network)

    def tensors(self, table: Mapping[str, Any]) -> tuple[torch.Tensor, ...]:
        return quality_tensors(table)

    def loss(self, model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return quality_loss(model, batch)

    def evaluate(self, network: torch.nn.Module, train: pd.DataFrame, test: pd.DataFrame) -> Metrics:
        return evaluate_quality(network, train, test)

    def trained(
        self,
        network: torch.nn.Module,
        metrics: Metrics,
        rows: int,
        test: pd.DataFrame,
        dataset: str | None = None,
    ) -> Trained:
        parameters = test[list(data.PARAMETERS)].to_numpy(dtype=np.float32)
        card = quality_card(metrics, rows, dataset)
        return Trained(
            card=card,
            torch_module=network,
            sample_inputs={"process_parameters": parameters[:4]},
            reference_inputs={"process_parameters": parameters},
        )

    def example(self) -> dict[str, np.ndarray]:
        """A cautious and a hot setting of the same reactor with a half-year-old catalyst."""
        return {
            "process_parameters": np.array(
                [[190, 30, 1.8, 45, 180], [235, 30, 1.8, 45, 180]], dtype=np.float32
            )
        }


class ProcessSettingRecommender(BuiltinComponent):
    name = "process_setting_recommender"

    def __init__(self, samples: int = 4000, epochs: int = 60, scenarios: int = 40) -> None:
        self.samples = samples
        self.epochs = epochs
        self.scenarios = scenarios

    def train(self, seed: int = 0) -> Trained:
        result = fitted(seed, self.samples, self.epochs)
        recommender = SettingRecommender(result.net).eval()
        scenarios = random_scenarios(self.scenarios, seed + 20_000)
        with torch.no_grad():
            recommended, _, _ = recommender(*(torch.from_numpy(v) for v in scenarios.values()))
        ages = scenarios["catalyst_age_days"][:, None]
        true_quality, true_defect = data.simulate(np.hstack([recommended.numpy(), ages]))
        historical = best_historical(result, scenarios)
        base_quality, base_defect = data.simulate(np.hstack([historical, ages]))
        metrics = {
            # Quality that can be sold: a defective batch is worth nothing, so weigh quality by P(in spec).
            "expected_in_spec_quality": (
                float(np.mean(true_quality * (1 - true_defect))),
                float(np.mean(base_quality * (1 - base_defect))),
            ),
            "true_quality_at_recommendation": (float(true_quality.mean()), float(base_quality.mean())),
            "share_within_defect_limit": (
                float(np.mean(true_defect <= DEFECT_LIMIT * 1.5)),
                float(np.mean(base_defect <= DEFECT_LIMIT * 1.5)),
            ),
        }
        sample = {k: v[:4] for k, v in scenarios.items()}
        return Trained(
            card=recommender_card(metrics, self.scenarios), torch_module=recommender, sample_inputs=sample
        )

    def example(self) -> dict[str, np.ndarray]:
        """An operator who keeps the temperature at or under 220 °C, with a 120-day-old catalyst."""
        return {
            "bounds_low": np.array([[170, 15, 1.2, 20]], dtype=np.float32),
            "bounds_high": np.array([[220, 35, 2.5, 55]], dtype=np.float32),
            "catalyst_age_days": np.array([120], dtype=np.float32),
            "max_defect_probability": np.array([0.1], dtype=np.float32),
        }


def random_scenarios(n: int, seed: int) -> dict[str, np.ndarray]:
    """Operator requests: a sub-box of the envelope, a catalyst age and the defect limit."""
    rng = np.random.default_rng(seed)
    low, span = data.LOW[: data.CONTROLLABLE], (data.HIGH - data.LOW)[: data.CONTROLLABLE]
    return {
        "bounds_low": (low + span * rng.uniform(0.0, 0.3, (n, data.CONTROLLABLE))).astype(np.float32),
        "bounds_high": (low + span * rng.uniform(0.7, 1.0, (n, data.CONTROLLABLE))).astype(np.float32),
        "catalyst_age_days": rng.uniform(0.0, 360.0, n).astype(np.float32),
        "max_defect_probability": np.full(n, DEFECT_LIMIT, dtype=np.float32),
    }


def best_historical(result: Fitted, scenarios: dict[str, np.ndarray]) -> np.ndarray:
    """Baseline: the best in-spec batch on record within the bounds, at a similar catalyst age (±60 days)."""
    chosen = []
    for low, high, age in zip(
        scenarios["bounds_low"], scenarios["bounds_high"], scenarios["catalyst_age_days"], strict=True
    ):
        controllable = result.settings[:, : data.CONTROLLABLE]
        eligible = (
            np.all((controllable >= low) & (controllable <= high), axis=1)
            & (np.abs(result.settings[:, -1] - age) <= 60.0)
            & (result.defect == 0)
        )
        if eligible.any():
            chosen.append(controllable[np.flatnonzero(eligible)[np.argmax(result.quality[eligible])]])
        else:
            chosen.append((low + high) / 2)
    return np.array(chosen)


def _parameter_list() -> str:
    return ", ".join(
        f"{p} [{lo:g}, {hi:g}]" for p, lo, hi in zip(data.PARAMETERS, data.LOW, data.HIGH, strict=True)
    )


def quality_card(metrics: Metrics, samples: int, data_source: str | None = None) -> Card:
    held_out = data_source or "held-out synthetic reactor batches"
    dataset = (
        f"{held_out} (trained on {samples}); baselines: linear regression (quality), logistic regression "
        "(defect)"
    )
    return Card(
        name="process_quality",
        display=Names(zh="反应釜工艺质量预测", en="Reactor process quality prediction"),
        kind=Kind.process,
        industries=INDUSTRIES,
        task="quality prediction",
        owner=OWNER,
        license=LICENSE,
        visibility=Visibility.public,
        intended_use=(
            "工艺优化与质量管控：由反应温度、压力、进料比、停留时间和催化剂使用天数预测产品质量分（0–100）"
            "和不合格概率。Predicts a batch's quality score (0-100) "
            "and its probability of being off spec from "
            "reactor temperature, pressure, feed ratio, residence time and catalyst age."
        ),
        out_of_scope_use=(
            "操作范围之外的工况；其他反应体系。Settings outside the envelope; other chemistries."
        ),
        limitations=(
            f"在合成的串联反应（A→P→D）数据上训练，操作范围：{_parameter_list()}。需用本装置历史数据重新训练。"
            "Trained on a synthetic series-reaction reactor; retrain on the plant's own history. Acceptance "
            f"margin: quality RMSE at least {RMSE_REDUCTION:.0%} below the linear baseline."
        ),
        metrics=[
            Metric(
                name=name, value=value, baseline=base, higher_is_better=name == "defect_auc", dataset=dataset
            )
            for name, (value, base) in metrics.items()
        ],
        inputs=[
            TensorSpec(
                name="process_parameters",
                datatype="FP32",
                shape=[-1, len(data.PARAMETERS)],
                description="columns: " + _parameter_list(),
            ),
        ],
        outputs=[
            TensorSpec(
                name="quality", datatype="FP32", shape=[-1], description="predicted quality score, 0-100"
            ),
            TensorSpec(
                name="defect_probability",
                datatype="FP32",
                shape=[-1],
                description="probability that the batch is off spec",
            ),
        ],
    )


def recommender_card(metrics: dict[str, tuple[float, float]], scenarios: int) -> Card:
    controllable = ", ".join(data.PARAMETERS[: data.CONTROLLABLE])
    return Card(
        name="process_setting_recommender",
        display=Names(zh="反应釜工艺参数推荐", en="Reactor process setting recommender"),
        kind=Kind.process,
        industries=INDUSTRIES,
        task="process optimisation",
        owner=OWNER,
        license=LICENSE,
        visibility=Visibility.public,
        intended_use=(
            "在操作员给定的参数上下限内，按当前催化剂使用天数推荐使预测质量最高且不合格概率不超过上限的工艺参数"
            f"（{controllable}）。Within the operator's bounds "
            "and for the current catalyst age, recommends the "
            "settings that maximise the predicted quality of `process_quality` while keeping the predicted "
            "defect probability under a limit."
        ),
        out_of_scope_use="闭环自动控制；范围外外推。Closed-loop control without an operator; extrapolation.",
        limitations=(
            "推荐基于 process_quality 模型的预测，须经工艺工程师确认；"
            "上下限会被裁剪到训练范围内。Recommendations "
            "are predictions of the quality model and need an engineer's sign-off; bounds are clipped to the "
            "training envelope. Evaluated against the true (simulated) reactor."
        ),
        metrics=[
            Metric(
                name=name,
                value=value,
                baseline=base,
                dataset=(
                    f"{scenarios} random operator requests on the "
                    "simulated reactor (share within limit allows "
                    "1.5× the limit); baseline: best in-spec batch on "
                    "record within the bounds at similar catalyst age"
                ),
            )
            for name, (value, base) in metrics.items()
        ],
        inputs=[
            TensorSpec(
                name="bounds_low",
                datatype="FP32",
                shape=[-1, data.CONTROLLABLE],
                description=f"lower bounds of {controllable}",
            ),
            TensorSpec(
                name="bounds_high",
                datatype="FP32",
                shape=[-1, data.CONTROLLABLE],
                description=f"upper bounds of {controllable}",
            ),
            TensorSpec(
                name="catalyst_age_days",
                datatype="FP32",
                shape=[-1],
                description="current catalyst age, days",
            ),
            TensorSpec(
                name="max_defect_probability",
                datatype="FP32",
                shape=[-1],
                description="highest acceptable predicted defect probability, e.g. 0.1",
            ),
        ],
        outputs=[
            TensorSpec(
                name="recommended_settings",
                datatype="FP32",
                shape=[-1, data.CONTROLLABLE],
                description=f"recommended {controllable}",
            ),
            TensorSpec(
                name="predicted_quality",
                datatype="FP32",
                shape=[-1],
                description="predicted quality at the recommendation",
            ),
            TensorSpec(
                name="predicted_defect_probability",
                datatype="FP32",
                shape=[-1],
                description="predicted defect probability at the recommendation",
            ),
        ],
    )
