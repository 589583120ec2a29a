"""Placement scorers, chosen by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from scheduler.errors import UnknownScorer
from scheduler.model import Resources
from scheduler.policy.scorers.base import Scorer
from scheduler.policy.scorers.cost import Carbon, Price
from scheduler.policy.scorers.fgd import Fgd
from scheduler.policy.scorers.simple import BestFit, DotProduct, FirstFit, Pack, Spread

_SIMPLE: dict[str, Callable[[], Scorer]] = {
    "first-fit": FirstFit,
    "best-fit": BestFit,
    "dot-product": DotProduct,
    "pack": Pack,
    "spread": Spread,
    "price": Price,
    "carbon": Carbon,
}

SCORERS: tuple[str, ...] = (*_SIMPLE, "fgd")
"""Every name `make_scorer` accepts."""


def make_scorer(name: str, workload: Sequence[tuple[Resources, float]] | None = None) -> Scorer:
    """Build the scorer called `name`; FGD also needs the workload's (bundle, weight) classes."""
    if name == "fgd":
        if not workload:
            raise UnknownScorer("fgd (without a workload to measure fragmentation against)", SCORERS)
        return Fgd(workload)
    if name not in _SIMPLE:
        raise UnknownScorer(name, SCORERS)
    return _SIMPLE[name]()


__all__ = [
    "SCORERS",
    "BestFit",
    "Carbon",
    "DotProduct",
    "Fgd",
    "FirstFit",
    "Pack",
    "Price",
    "Scorer",
    "Spread",
    "make_scorer",
]
