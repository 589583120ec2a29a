"""Synthetic vibration windows of a motor-driven shaft on a 6205 bearing, healthy or with one defect.

Assumptions (a simplified version of the standard bearing-fault signal model; nothing is measured):
- Accelerometer on the housing, 12 kHz sampling, windows of 4096 samples (0.34 s); shaft at 20–30 Hz.
- Every window holds shaft harmonics (imbalance and misalignment, 1×–3×, 0.05–0.2 g) and white sensor and
  process noise (0.05–0.15 g RMS).
- A localised defect makes an impact each time a rolling element passes it: a decaying oscillation of a
  structural resonance (2.5–4 kHz, damping ratio 5 %) repeating at the defect frequency, with 1 % timing
  jitter from rolling-element slip.
- Outer-race defects sit still in the load zone, so their impacts are of even strength; inner-race defects
  turn with the shaft, so their impacts are modulated at the shaft frequency; ball defects are modulated at
  the cage frequency and repeat at twice the ball-spin frequency.
- Severity (impact amplitude) is log-uniform from 0.1 to 1.5 g, so a share of the faults is hard to see.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from components.equipment_health.bearing import BEARING_6205, BearingGeometry, defect_orders

SAMPLE_RATE_HZ = 12_000
WINDOW = 4096
#: The class order of the component's probability output.
CLASSES = ("healthy", "inner_race", "outer_race", "ball")


def generate(
    n_per_class: int, seed: int = 0, bearing: BearingGeometry = BEARING_6205, severity_g: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (vibration [n, 4096] in g, shaft speed [n] in Hz, class index [n]) in shuffled order.

    `severity_g` fixes the impact amplitude of every fault (for demonstrations) instead of drawing it.
    """
    rng = np.random.default_rng(seed)
    orders = defect_orders(bearing)
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    rng.shuffle(labels)
    n = len(labels)
    t = np.arange(WINDOW) / SAMPLE_RATE_HZ
    shaft = rng.uniform(20.0, 30.0, n)
    signals = rng.normal(0.0, 1.0, (n, WINDOW)) * rng.uniform(0.05, 0.15, (n, 1))
    for h in (1, 2, 3):
        amplitude = rng.uniform(0.05, 0.2, (n, 1)) / h
        signals += amplitude * np.sin(2 * np.pi * h * shaft[:, None] * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    impacts = np.zeros((n, WINDOW))
    for i in np.flatnonzero(labels > 0):
        fault = CLASSES[labels[i]]
        order = {"inner_race": orders.bpfi, "outer_race": orders.bpfo, "ball": 2 * orders.bsf}[fault]
        rate = order * shaft[i]
        times = np.arange(rng.uniform(0, 1 / rate), WINDOW / SAMPLE_RATE_HZ, 1 / rate)
        times = times + rng.normal(0.0, 0.01 / rate, len(times))
        severity = np.exp(rng.uniform(np.log(0.1), np.log(1.5))) if severity_g is None else severity_g
        strength = severity * rng.uniform(0.8, 1.2, len(times))
        if fault == "inner_race":
            strength *= 0.3 + 0.7 * (0.5 + 0.5 * np.cos(2 * np.pi * shaft[i] * times + rng.uniform(0, 6.3)))
        elif fault == "ball":
            strength *= 0.3 + 0.7 * (0.5 + 0.5 * np.cos(2 * np.pi * orders.ftf * shaft[i] * times))
        idx = np.clip(np.round(times * SAMPLE_RATE_HZ).astype(int), 0, WINDOW - 1)
        np.add.at(impacts[i], idx, strength)
    # Each impact rings the housing's resonance: convolve the impact train with its impulse response.
    resonance = rng.uniform(2500.0, 4000.0, (n, 1))
    tk = np.arange(96) / SAMPLE_RATE_HZ
    kernels = np.exp(-0.05 * 2 * np.pi * resonance * tk) * np.sin(2 * np.pi * resonance * tk)
    signals += fftconvolve(impacts, kernels, axes=1)[:, :WINDOW]
    return signals.astype(np.float32), shaft.astype(np.float32), labels
