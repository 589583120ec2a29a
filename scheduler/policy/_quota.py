"""Hierarchical quotas with borrowing and lending limits, checked on a scratch copy of the usage.

For a queue c with parent P, the extra amount c may take now is

    available(c) = min(G_c + B_c - U_c,  available(P) - sum over siblings s of reserved_s)

with G the guaranteed quota, B the borrowing limit, U the usage and reserved_s = max(0, G_s - U_s - L_s)
the part of a sibling's unused guarantee it does not lend (L its lending limit). The root's available
is its guarantee minus its usage (unlimited when the root has no quota; node capacity still bounds it).
All three resources (CPU, memory, GPU) are checked independently. A resource a quota leaves out (a
`Quota` field of None) is not constrained by that quota: an infinite guarantee or limit, and nothing of
it reserved from siblings.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from scheduler.model import Amount, QueueTree, Quota

_INF = np.full(3, np.inf)


def _vector(amount: Amount | Quota | None, default: float, unnamed: float = np.inf) -> np.ndarray:
    if amount is None:
        return np.full(3, default)
    return np.array([unnamed if x is None else x for x in amount.as_tuple()], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Limits:
    guaranteed: dict[str, np.ndarray]
    guaranteed_or_zero: dict[str, np.ndarray]
    borrow: dict[str, np.ndarray]
    lend: dict[str, np.ndarray]
    protecting: dict[str, list[str]]
    """Per parent, the children with a lending limit: only they can hold back part of their guarantee."""


# Limits change only with the tree, and trees are immutable: build the vectors once per tree.
_LIMITS: weakref.WeakKeyDictionary[QueueTree, _Limits] = weakref.WeakKeyDictionary()


def _limits(tree: QueueTree) -> _Limits:
    limits = _LIMITS.get(tree)
    if limits is None:
        queues = tree.queues.items()
        limits = _Limits(
            guaranteed={n: _vector(q.guaranteed, np.inf) for n, q in queues},
            # A queue without a guarantee has nothing of its own to protect or lend.
            guaranteed_or_zero={n: _vector(q.guaranteed, 0.0, unnamed=0.0) for n, q in queues},
            borrow={n: _vector(q.borrowing_limit, np.inf) for n, q in queues},
            lend={n: _vector(q.lending_limit, np.inf) for n, q in queues},
            protecting={
                parent: [c for c in kids if tree.queues[c].lending_limit is not None]
                for parent, kids in tree.children.items()
            },
        )
        _LIMITS[tree] = limits
    return limits


class QuotaBook:
    """The queue tree's limits and a usage copy that admissions in this cycle update."""

    def __init__(self, tree: QueueTree, usage: dict[str, np.ndarray]) -> None:
        self.tree = tree
        self.usage = {name: u.copy() for name, u in usage.items()}
        limits = _limits(tree)
        self.guaranteed = limits.guaranteed
        self._g0 = limits.guaranteed_or_zero
        self.borrow = limits.borrow
        self.lend = limits.lend
        self._protecting = limits.protecting
        self._nothing = np.zeros(3)
        self._reserved_sum: dict[str, np.ndarray] = {}

    def reserved(self, queue: str) -> np.ndarray:
        if self.tree.queues[queue].lending_limit is None:
            return self._nothing  # lends all its unused guarantee
        unused = np.maximum(self._g0[queue] - self.usage[queue], 0.0)
        return np.asarray(np.maximum(unused - self.lend[queue], 0.0), dtype=np.float64)

    def _reserved_children(self, parent: str) -> np.ndarray:
        total = self._reserved_sum.get(parent)
        if total is None:
            total = np.zeros(3)
            for child in self._protecting[parent]:
                total = total + self.reserved(child)
            self._reserved_sum[parent] = total
        return total

    def available(self, queue: str) -> np.ndarray:
        """How much more the queue may use now, per resource."""
        path = self.tree.paths[queue]
        root = path[-1]
        avail = self.guaranteed[root] - self.usage[root]
        for child in reversed(path[:-1]):
            parent = self.tree.queues[child].parent
            assert parent is not None
            others = self._reserved_children(parent) - self.reserved(child)
            own = self.guaranteed[child] + self.borrow[child] - self.usage[child]
            avail = np.minimum(own, avail - others)
        return np.asarray(avail, dtype=np.float64)

    def fits(self, queue: str, demand: np.ndarray) -> bool:
        return bool((demand <= self.available(queue) + 1e-9).all())

    def within_guarantee(self, queue: str, demand: np.ndarray) -> bool:
        """Whether the leaf would stay inside its own guarantee: then it may reclaim what it lent."""
        return bool((self.usage[queue] + demand <= self.guaranteed[queue] + 1e-9).all())

    def borrowing(self, queue: str) -> bool:
        """Whether the queue uses more than its guarantee of some resource."""
        return bool((self.usage[queue] > self.guaranteed[queue] + 1e-9).any())

    def charge(self, queue: str, demand: np.ndarray) -> None:
        for name in self.tree.paths[queue]:
            self.usage[name] += demand
            parent = self.tree.queues[name].parent
            if parent is not None:
                self._reserved_sum.pop(parent, None)
