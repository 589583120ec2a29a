"""Version routing: production by default, an explicit version in the URL, or a canary split.

The decision is pure (a route and a number in [0, 1) in, a version out) so that the split is
testable exactly; the gateway supplies the random number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Canary:
    version: int
    percent: float  # share of default-routed calls sent to the canary, 0 < percent < 100

    def __post_init__(self) -> None:
        if not 0 < self.percent < 100:
            raise ValueError(f"canary percent must be between 0 and 100 (exclusive), got {self.percent}")


@dataclass(frozen=True)
class Route:
    """Where calls to a component go when they do not name a version."""

    default: int
    canary: Canary | None = None

    def pick(self, draw: float) -> int:
        """``draw`` is uniform in [0, 1)."""
        if self.canary is not None and draw * 100 < self.canary.percent:
            return self.canary.version
        return self.default
