"""The energy forecast component: training, a backtest against seasonal naive, and the card."""

from __future__ import annotations

import numpy as np
import torch

from components.base import LICENSE, OWNER, BuiltinComponent, Trained
from components.energy_forecast import data
from components.energy_forecast.model import DayAttentionForecaster
from components.training import fit, seed_everything
from model_hub.card import Card, Metric, Names, TensorSpec
from model_hub.taxonomy import Kind, Visibility

#: Train on target days up to the end of August 2025; backtest on September–December 2025.
FIRST_TEST_DAY = data.day_index("2025-09-01")
#: The relative MAPE reduction the model must achieve against seasonal naive (acceptance margin).
MAPE_REDUCTION = 0.3


def mape(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(np.abs(forecast - actual) / np.abs(actual)) * 100)


class EnergyForecast(BuiltinComponent):
    name = "energy_forecast"

    def __init__(self, sites: int = 8, epochs: int = 60) -> None:
        self.sites = sites
        self.epochs = epochs

    def train(self, seed: int = 0) -> Trained:
        seed_everything(seed)
        sites, kinds = data.generate(self.sites, seed=seed)
        train = data.windows(sites, kinds, 0, FIRST_TEST_DAY - 1)
        test = data.windows(sites, kinds, FIRST_TEST_DAY, len(kinds) - 1)
        model = DayAttentionForecaster()

        def loss(m: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            forecast, _ = m(batch[0], batch[1])
            return (torch.abs(forecast - batch[2]) / batch[2]).mean()  # MAPE is what the backtest reports

        tensors = tuple(torch.from_numpy(train[k]) for k in ("load_history", "day_kind", "target"))
        fit(model, loss, tensors, epochs=self.epochs, batch_size=64, lr=3e-3, seed=seed)
        with torch.no_grad():
            forecast, _ = model(torch.from_numpy(test["load_history"]), torch.from_numpy(test["day_kind"]))
        actual = test["target"]
        naive = test["load_history"][:, :24]  # the same hours one week earlier
        holiday = test["day_kind"][:, -1] == data.HOLIDAY
        daily = (forecast.numpy().sum(axis=1), naive.sum(axis=1), actual.sum(axis=1))
        metrics = {
            "hourly_mape_percent": (mape(forecast.numpy(), actual), mape(naive, actual)),
            "daily_energy_mape_percent": (mape(daily[0], daily[2]), mape(daily[1], daily[2])),
            "holiday_hourly_mape_percent": (
                mape(forecast.numpy()[holiday], actual[holiday]),
                mape(naive[holiday], actual[holiday]),
            ),
        }
        sample = {"load_history": test["load_history"][:4], "day_kind": test["day_kind"][:4]}
        return Trained(
            card=card(metrics, len(train["target"]), len(actual)),
            torch_module=model,
            sample_inputs=sample,
            reference_inputs={"load_history": test["load_history"], "day_kind": test["day_kind"]},
        )

    def example(self) -> dict[str, np.ndarray]:
        """A two-shift plant forecasting 1 October 2025, the first day of the National Day holiday."""
        sites, kinds = data.generate(2, seed=2026)
        day = data.day_index("2025-10-01")
        w = data.windows(sites[1:2], kinds, day, day)
        return {"load_history": w["load_history"], "day_kind": w["day_kind"]}


def card(metrics: dict[str, tuple[float, float]], n_train: int, n_test: int) -> Card:
    dataset = (
        f"backtest on {n_test} site-days, Sep-Dec 2025 incl. National Day (trained on {n_train} site-days, "
        "Jan 2024-Aug 2025); baseline: seasonal naive (same hour one week earlier)"
    )
    kinds = ", ".join(f"{i}={k}" for i, k in enumerate(data.DAY_KINDS))
    return Card(
        name="energy_forecast",
        display=Names(zh="企业与园区用电负荷预测", en="Enterprise and park electricity load forecast"),
        kind=Kind.process,
        industries=[
            "high-end-equipment",
            "high-end-chemicals",
            "advanced-materials",
            "light-industry",
            "textiles-apparel",
            "new-generation-it",
        ],
        task="load forecasting",
        owner=OWNER,
        license=LICENSE,
        visibility=Visibility.public,
        intended_use=(
            "产业动态监测（电力看经济）与需求侧管理：由过去 7 天的逐时用电负荷和日类型（工作日、周六、周日、"
            "法定节假日、调休上班）预测次日 24 小时负荷和日用电量。Next-day "
            "hourly load and daily energy of an "
            "enterprise or industrial park from the last 7 days "
            "of hourly load and the day kinds, for economic "
            "monitoring through electricity ('电力看经济') and demand-side management."
        ),
        out_of_scope_use="电网调度级别的负荷预测；超过一天的预测。Grid dispatch; horizons beyond one day.",
        limitations=(
            "历史须为目标日前 7 个完整自然日（00:00 对齐）。"
            "在合成数据上训练，未使用气温预报。The history must be "
            "the 7 whole days before the target day, aligned to "
            "midnight. Trained on synthetic 2024-2025 load without "
            "weather forecasts. Acceptance margin: hourly MAPE "
            f"at least {MAPE_REDUCTION:.0%} below seasonal naive."
        ),
        metrics=[
            Metric(name=name, value=value, baseline=base, higher_is_better=False, dataset=dataset)
            for name, (value, base) in metrics.items()
        ],
        inputs=[
            TensorSpec(
                name="load_history",
                datatype="FP32",
                shape=[-1, data.HISTORY_DAYS * data.HOURS],
                description="hourly mean load, kW, the 168 hours before the target day, oldest first",
            ),
            TensorSpec(
                name="day_kind",
                datatype="INT64",
                shape=[-1, data.HISTORY_DAYS + 1],
                description=f"kind of each history day and of the target day (last): {kinds}",
            ),
        ],
        outputs=[
            TensorSpec(
                name="load_forecast",
                datatype="FP32",
                shape=[-1, data.HOURS],
                description="hourly mean load of the target day, kW, 00:00-01:00 first",
            ),
            TensorSpec(
                name="daily_energy_kwh",
                datatype="FP32",
                shape=[-1],
                description="energy of the target day, kWh",
            ),
        ],
    )
