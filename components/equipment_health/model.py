"""Physics features and the fault classifier, as one torch module that exports to ONNX.

The features are the condition indicators a vibration analyst reads first: RMS, kurtosis and crest factor
of the window, and the envelope spectrum at the bearing's defect frequencies and their harmonics. The
envelope is computed without an FFT (the legacy ONNX exporter has none): a first difference acts as a
high-pass filter that keeps the resonance band and drops the shaft harmonics, squaring demodulates it, and
averaging decimates it; the spectrum is then evaluated only at the few frequencies that matter, as direct
DFT sums, which also lets every row have its own shaft speed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from components.equipment_health.bearing import DefectFrequencies
from components.equipment_health.data import SAMPLE_RATE_HZ, WINDOW

DECIMATION = 8
HARMONICS = (1.0, 2.0, 3.0)
#: Rolling-element slip moves the peaks by about 1 %: look a little either side and keep the largest.
SLIPS = (0.99, 1.0, 1.01)
N_FEATURES = 3 + 3 * len(HARMONICS)


class BearingFeatures(nn.Module):
    """[batch, 4096] vibration (g) and [batch] shaft speed (Hz) → [batch, 12] features."""

    orders: torch.Tensor
    times: torch.Tensor
    taper: torch.Tensor

    def __init__(self, orders: DefectFrequencies) -> None:
        super().__init__()
        # Defect orders in the class order inner race, outer race, ball (ball impacts repeat at 2 × BSF).
        base = torch.tensor([orders.bpfi, orders.bpfo, 2 * orders.bsf], dtype=torch.float32)
        grid = (
            base[:, None, None] * torch.tensor(HARMONICS)[None, :, None] * torch.tensor(SLIPS)[None, None, :]
        )
        self.register_buffer("orders", grid.reshape(-1))  # [3 · harmonics · slips]
        length = (WINDOW - 1 - 2 * DECIMATION) // DECIMATION + 1
        times = (torch.arange(length, dtype=torch.float32) * DECIMATION + DECIMATION) / SAMPLE_RATE_HZ
        self.register_buffer("times", times)
        self.register_buffer("taper", torch.hann_window(length, periodic=False))

    def forward(self, vibration: torch.Tensor, shaft_speed_hz: torch.Tensor) -> torch.Tensor:
        x = vibration - vibration.mean(dim=1, keepdim=True)
        rms = torch.sqrt((x * x).mean(dim=1) + 1e-12)
        kurtosis = (x**4).mean(dim=1) / rms**4
        crest = x.abs().amax(dim=1) / rms
        high = x[:, 1:] - x[:, :-1]
        envelope = nn.functional.avg_pool1d((high * high).unsqueeze(1), 2 * DECIMATION, DECIMATION).squeeze(1)
        envelope = (envelope - envelope.mean(dim=1, keepdim=True)) * self.taper
        freqs = shaft_speed_hz.unsqueeze(1) * self.orders  # [batch, k]
        phase = 2 * math.pi * freqs.unsqueeze(2) * self.times  # [batch, k, length]
        re = (torch.cos(phase) * envelope.unsqueeze(1)).sum(dim=2)
        im = (torch.sin(phase) * envelope.unsqueeze(1)).sum(dim=2)
        amplitude = torch.sqrt(re * re + im * im)
        # Relative to the envelope's overall level, so the peak ratio does not depend on the signal's energy.
        level = torch.sqrt((envelope * envelope).sum(dim=1, keepdim=True) * self.taper.numel()) + 1e-12
        peaks = (amplitude / level).reshape(-1, 3 * len(HARMONICS), len(SLIPS)).amax(dim=2)
        time_domain = torch.stack([torch.log(rms), torch.log(kurtosis), torch.log(crest)], dim=1)
        return torch.cat([time_domain, torch.log1p(10.0 * peaks)], dim=1)


class BearingHealthNet(nn.Module):
    """Features → standardised → MLP → (anomaly_score, fault_probabilities, fault_class)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, orders: DefectFrequencies, hidden: int = 32) -> None:
        super().__init__()
        self.features = BearingFeatures(orders)
        self.register_buffer("mean", torch.zeros(N_FEATURES))
        self.register_buffer("std", torch.ones(N_FEATURES))
        self.classifier = nn.Sequential(
            nn.Linear(N_FEATURES, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 4),
        )

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier((features - self.mean) / self.std)

    def forward(
        self, vibration: torch.Tensor, shaft_speed_hz: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        probabilities = torch.softmax(self.logits(self.features(vibration, shaft_speed_hz)), dim=1)
        return 1.0 - probabilities[:, 0], probabilities, torch.argmax(probabilities, dim=1)
