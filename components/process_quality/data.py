"""A synthetic continuous stirred reactor: process parameters → product quality and off-spec batches.

Assumptions (a textbook mechanism, not plant data):
- Series reaction A → P → D (P the product, D a degradation impurity), both first order in the reactor.
  Rate constants follow Arrhenius' law around 200 °C: k1 = 0.08 /min with Ea1 = 80 kJ/mol, and
  k2 = 0.004 /min with Ea2 = 140 kJ/mol, so heat speeds degradation more than the main reaction.
- The main reaction is promoted by pressure (k1 ∝ √(P / 20 bar)) and by excess co-reactant B
  (k1 ∝ r / (r + 0.5) for feed ratio r = B:A), and slowed by catalyst deactivation,
  activity = exp(−age / 400 d).
- Yield of P after residence time τ: k1 / (k2 − k1) · (exp(−k1 τ) − exp(−k2 τ)).
- Quality (0–100) is the yield less a purification penalty for unreacted B, 100 · yield · (1 − 0.04 (r − 1)²),
  measured with lab noise of 1 point.
- Unreacted A is distilled off and only costs yield; the degradation product D cannot be separated, so a
  batch is off spec (defect) with probability sigmoid((impurity − 10 %) / 2 %), impurity = D / (P + D).
- Operating envelope: 160–240 °C, 10–40 bar, feed ratio 1–3, residence 10–60 min, catalyst age 0–360 days,
  sampled uniformly (a plant's historical operating data after design-of-experiments campaigns).
"""

from __future__ import annotations

import numpy as np

PARAMETERS = ("temperature_c", "pressure_bar", "feed_ratio", "residence_time_min", "catalyst_age_days")
LOW = np.array([160.0, 10.0, 1.0, 10.0, 0.0])
HIGH = np.array([240.0, 40.0, 3.0, 60.0, 360.0])
#: The operator may set the first four; catalyst age is a state of the plant.
CONTROLLABLE = 4
GAS_CONSTANT = 8.314
REFERENCE_K = 473.15


def simulate(settings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free (quality 0–100, defect probability) for settings [n, 5] in the order of PARAMETERS."""
    temperature, pressure, ratio, residence, age = (settings[:, i] for i in range(5))
    inverse = 1.0 / (temperature + 273.15) - 1.0 / REFERENCE_K
    k1 = 0.08 * np.exp(-80_000 / GAS_CONSTANT * inverse) * np.sqrt(pressure / 20.0)
    k1 = k1 * ratio / (ratio + 0.5) * np.exp(-age / 400.0)
    k2 = 0.004 * np.exp(-140_000 / GAS_CONSTANT * inverse)
    unreacted = np.exp(-k1 * residence)
    product = k1 / (k2 - k1) * (unreacted - np.exp(-k2 * residence))
    degraded = 1.0 - unreacted - product
    quality = 100.0 * product * (1.0 - 0.04 * (ratio - 1.0) ** 2)
    impurity = degraded / (product + degraded)
    return quality, 1.0 / (1.0 + np.exp(-(impurity - 0.10) / 0.02))


def generate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(settings [n, 5], measured quality [n], off-spec label [n] 0/1)."""
    rng = np.random.default_rng(seed)
    settings = LOW + (HIGH - LOW) * rng.random((n, len(PARAMETERS)))
    quality, defect_probability = simulate(settings)
    measured = quality + rng.normal(0.0, 1.0, n)
    defect = (rng.random(n) < defect_probability).astype(np.float32)
    return settings.astype(np.float32), measured.astype(np.float32), defect
