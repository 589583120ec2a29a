"""The quality model and the setting recommender built on it, both torch modules that export to ONNX."""

from __future__ import annotations

import torch
from torch import nn

from components.process_quality.data import CONTROLLABLE, HIGH, LOW, PARAMETERS


class QualityNet(nn.Module):
    """Process settings [batch, 5] → (quality [batch], defect_probability [batch]).

    Inputs are scaled by the fixed operating envelope rather than by data statistics, so the scaling is
    part of the design, visible in the card, and identical in training and serving.
    """

    low: torch.Tensor
    span: torch.Tensor

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.register_buffer("low", torch.tensor(LOW, dtype=torch.float32))
        self.register_buffer("span", torch.tensor(HIGH - LOW, dtype=torch.float32))
        self.body = nn.Sequential(
            nn.Linear(len(PARAMETERS), hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def raw(self, settings: torch.Tensor) -> torch.Tensor:
        """[..., 2]: quality / 100 and the defect logit."""
        return self.body((settings - self.low) / self.span)

    def forward(self, process_parameters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.raw(process_parameters)
        return 100.0 * out[..., 0], torch.sigmoid(out[..., 1])


class RawQuality(nn.Module):
    """QualityNet as it trains: forward gives the raw outputs the loss needs (quality / 100, defect logit).

    A data-parallel wrapper around this module synchronises the gradients of the shared network.
    """

    def __init__(self, net: QualityNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, settings: torch.Tensor) -> torch.Tensor:
        return self.net.raw(settings)


class SettingRecommender(nn.Module):
    """Search the operator's bounds for the settings with the best predicted quality.

    Three rounds of candidate screening, all inside the graph so the ONNX model is self-contained: a
    fixed Sobol design over the whole box, then two rounds of smaller boxes around the best so far. A
    candidate whose predicted defect probability exceeds the limit is penalised, so a feasible setting
    always wins over an infeasible one. Bounds are clipped to the envelope the model was trained on:
    recommending outside it would be extrapolation.
    """

    coarse: torch.Tensor
    fine: torch.Tensor
    envelope_low: torch.Tensor
    envelope_high: torch.Tensor

    def __init__(self, quality: QualityNet, coarse: int = 1024, fine: int = 256) -> None:
        super().__init__()
        self.quality = quality
        sobol = torch.quasirandom.SobolEngine(CONTROLLABLE, scramble=True, seed=7)
        self.register_buffer("coarse", sobol.draw(coarse))  # [coarse, 4] in [0, 1]
        self.register_buffer("fine", sobol.draw(fine) * 2.0 - 1.0)  # [fine, 4] in [-1, 1]
        self.register_buffer("envelope_low", torch.tensor(LOW[:CONTROLLABLE], dtype=torch.float32))
        self.register_buffer("envelope_high", torch.tensor(HIGH[:CONTROLLABLE], dtype=torch.float32))

    def _best(
        self, candidates: torch.Tensor, age: torch.Tensor, limit: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """candidates [batch, n, 4] → the best one [batch, 4], its quality and defect probability [batch]."""
        ages = age.reshape(-1, 1, 1).expand(-1, candidates.shape[1], 1)
        quality, defect = self.quality(torch.cat([candidates, ages], dim=2))
        score = quality - 1000.0 * torch.relu(defect - limit.unsqueeze(1))
        best = torch.argmax(score, dim=1, keepdim=True)  # [batch, 1]
        settings = torch.gather(candidates, 1, best.unsqueeze(2).expand(-1, 1, CONTROLLABLE)).squeeze(1)
        return settings, torch.gather(quality, 1, best).squeeze(1), torch.gather(defect, 1, best).squeeze(1)

    def forward(
        self,
        bounds_low: torch.Tensor,
        bounds_high: torch.Tensor,
        catalyst_age_days: torch.Tensor,
        max_defect_probability: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        low = torch.minimum(torch.maximum(bounds_low, self.envelope_low), self.envelope_high)
        high = torch.minimum(torch.maximum(bounds_high, low), self.envelope_high)
        span = high - low
        candidates = low.unsqueeze(1) + span.unsqueeze(1) * self.coarse
        best, quality, defect = self._best(candidates, catalyst_age_days, max_defect_probability)
        for radius in (0.1, 0.02):
            around = best.unsqueeze(1) + radius * span.unsqueeze(1) * self.fine
            around = torch.minimum(torch.maximum(around, low.unsqueeze(1)), high.unsqueeze(1))
            # Keep the incumbent among the candidates so a round never makes the answer worse.
            candidates = torch.cat([best.unsqueeze(1), around], dim=1)
            best, quality, defect = self._best(candidates, catalyst_age_days, max_defect_probability)
        return best, quality, defect
