"""Rolling-element bearing kinematics: the defect frequencies from the bearing's geometry.

For a bearing with `n` rolling elements of diameter d on pitch diameter D, contact angle φ, and the
inner ring turning at the shaft frequency f_r with the outer ring fixed:

    FTF  = f_r / 2 · (1 − d/D · cos φ)                 cage (fundamental train)
    BPFO = n · f_r / 2 · (1 − d/D · cos φ)             ball pass, outer race
    BPFI = n · f_r / 2 · (1 + d/D · cos φ)             ball pass, inner race
    BSF  = D / (2d) · f_r · (1 − (d/D · cos φ)²)       ball spin

A ball defect strikes both races once per spin, so its impacts repeat at 2 × BSF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BearingGeometry:
    name: str
    rolling_elements: int
    ball_diameter_mm: float
    pitch_diameter_mm: float
    contact_angle_deg: float = 0.0


#: The deep-groove ball bearing of many motor drive ends (and of the well-known CWRU test rig).
BEARING_6205 = BearingGeometry("6205-2RS", rolling_elements=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04)


@dataclass(frozen=True)
class DefectFrequencies:
    """Defect frequencies as multiples of the shaft frequency (orders)."""

    ftf: float
    bpfo: float
    bpfi: float
    bsf: float

    def at(self, shaft_hz: float) -> DefectFrequencies:
        """The same frequencies in Hz at a shaft frequency."""
        return DefectFrequencies(*(v * shaft_hz for v in (self.ftf, self.bpfo, self.bpfi, self.bsf)))


def defect_orders(bearing: BearingGeometry) -> DefectFrequencies:
    ratio = (
        bearing.ball_diameter_mm
        / bearing.pitch_diameter_mm
        * math.cos(math.radians(bearing.contact_angle_deg))
    )
    n = bearing.rolling_elements
    return DefectFrequencies(
        ftf=0.5 * (1 - ratio),
        bpfo=n / 2 * (1 - ratio),
        bpfi=n / 2 * (1 + ratio),
        bsf=bearing.pitch_diameter_mm / (2 * bearing.ball_diameter_mm) * (1 - ratio**2),
    )
