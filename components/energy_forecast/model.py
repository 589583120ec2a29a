"""A day-attention sequence model for next-day hourly load, exported to ONNX.

Load forecasting practice leans on "similar days": tomorrow, a working Monday, looks like the last
working day, not like yesterday's Sunday. The model reads the 7-day history as a sequence of day tokens
(24 loads relative to the week's mean, plus the day's kind), attends from the target day's kind to those
tokens to build a base profile from the most similar days, and lets a small MLP correct it (holidays with
no similar day in the week, the ramp after a long break, the trend). Working on load relative to the week's
mean makes one model serve sites from 100 kW to tens of MW.
"""

from __future__ import annotations

import torch
from torch import nn

from components.energy_forecast.data import DAY_KINDS, HISTORY_DAYS, HOURS

WIDTH = 32


class DayAttentionForecaster(nn.Module):
    """(load_history [batch, 168] kW, day_kind [batch, 8]) → (load_forecast [batch, 24] kW, daily kWh)."""

    kind_features: torch.Tensor

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        kinds = len(DAY_KINDS)
        self.key = nn.Linear(HOURS + kinds, WIDTH)
        self.query = nn.Linear(kinds, WIDTH)
        self.correction = nn.Sequential(
            nn.Linear(3 * HOURS + kinds, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, HOURS),
        )
        # Day kinds as features that share what they have in common, so the few holidays in a year of
        # history do not have to be learnt from scratch: a public holiday is a rest day like a Sunday (plus
        # a holiday flag), a make-up working day is a working day like a weekday (plus its own flag).
        #                       working  saturday  rest  holiday  make-up
        features = [
            [1.0, 0.0, 0.0, 0.0, 0.0],  # weekday
            [0.0, 1.0, 0.0, 0.0, 0.0],  # saturday
            [0.0, 0.0, 1.0, 0.0, 0.0],  # sunday
            [0.0, 0.0, 1.0, 1.0, 0.0],  # public holiday
            [1.0, 0.0, 0.0, 0.0, 1.0],  # make-up working day
        ]
        self.register_buffer("kind_features", torch.tensor(features))

    def forward(
        self, load_history: torch.Tensor, day_kind: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scale = load_history.mean(dim=1, keepdim=True) + 1e-3
        days = (load_history / scale).reshape(-1, HISTORY_DAYS, HOURS)  # [batch, 7, 24]
        kind = self.kind_features[day_kind.long()]  # [batch, 8, kinds]
        keys = self.key(torch.cat([days, kind[:, :HISTORY_DAYS]], dim=2))  # [batch, 7, width]
        query = self.query(kind[:, HISTORY_DAYS])  # [batch, width]
        weights = torch.softmax((keys * query.unsqueeze(1)).sum(dim=2) / WIDTH**0.5, dim=1)  # [batch, 7]
        base = (weights.unsqueeze(2) * days).sum(dim=1)  # [batch, 24]
        context = torch.cat([base, days[:, -1], days.mean(dim=1), kind[:, HISTORY_DAYS]], dim=1)
        relative = base + self.correction(context)
        forecast = torch.relu(relative) * scale
        return forecast, forecast.sum(dim=1)
