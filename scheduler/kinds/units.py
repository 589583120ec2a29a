"""Units of industrial measurements and their conversion (affine: value · scale + offset to a base)."""

from __future__ import annotations

# unit → (dimension, scale, offset): base = value · scale + offset.
UNITS: dict[str, tuple[str, float, float]] = {
    "degC": ("temperature", 1.0, 0.0),
    "K": ("temperature", 1.0, -273.15),
    "degF": ("temperature", 5.0 / 9.0, -32.0 * 5.0 / 9.0),
    "Pa": ("pressure", 1e-3, 0.0),
    "kPa": ("pressure", 1.0, 0.0),
    "MPa": ("pressure", 1e3, 0.0),
    "bar": ("pressure", 100.0, 0.0),
    "psi": ("pressure", 6.894757, 0.0),
    "W": ("power", 1e-3, 0.0),
    "kW": ("power", 1.0, 0.0),
    "MW": ("power", 1e3, 0.0),
    "kWh": ("energy", 1.0, 0.0),
    "MWh": ("energy", 1e3, 0.0),
    "GJ": ("energy", 1e3 / 3.6, 0.0),
    "kg": ("mass", 1.0, 0.0),
    "t": ("mass", 1e3, 0.0),
    "g": ("mass", 1e-3, 0.0),
}


def convertible(source: str, target: str) -> str:
    """Empty when `source` converts to `target`, else what is wrong."""
    for unit in (source, target):
        if unit not in UNITS:
            return f"unit {unit!r} is unknown; known units: {', '.join(UNITS)}"
    if UNITS[source][0] != UNITS[target][0]:
        return f"{source} ({UNITS[source][0]}) does not convert to {target} ({UNITS[target][0]})"
    return ""


def factors(source: str, target: str) -> tuple[float, float]:
    """(scale, offset) with target = value · scale + offset."""
    _, s1, o1 = UNITS[source]
    _, s2, o2 = UNITS[target]
    return s1 / s2, (o1 - o2) / s2
