"""How well could any placement have packed the shared GPUs: the clairvoyant bounds for `fill`.

At 100% arrived demand the allocation a fill run reaches is capacity minus the room left on GPUs that
hold shares (fractions of one GPU): whole-GPU work fills its GPUs exactly, and once no whole GPU is
free the whole-GPU tasks still arriving are the ones dropped. So the figure a placement policy can
move is the room it strands between shares, and it can be compared with what a packer that saw every
share at once would strand. Two such packers, on GPUs alone (no CPU, memory or node boundaries, all
of which only make it harder):

* first-fit decreasing (FFD), the classic offline heuristic: biggest share first, each into the first
  GPU with room;
* the linear-programming relaxation of the cutting-stock problem (Gilmore and Gomory, 1961), solved by
  column generation (`scheduler.policy.scorers.patterns`, whose patterns FGD follows): a lower bound on
  the GPUs *any* packing of the shares needs, and hence on the room it must strand. Rounded up, it is
  usually the optimum itself (the "integer round-up property").

Neither is a bound on what an online policy placing tasks as they arrive must lose; they say how far a
result is from the best packing of the same shares, which is what tells a tuning target that is still
within reach from one that is not (docs/architecture.md, "Placement").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.model import GPU_MILLI
from scheduler.policy.scorers.patterns import cutting_stock, first_fit_decreasing


@dataclass(frozen=True, slots=True)
class Packing:
    """Shares of one GPU (milli-GPU each) and the GPUs that packers need for them."""

    shares: int
    demand_milli: int
    ffd_gpus: int
    """GPUs first-fit decreasing uses."""
    least_gpus: int
    """No packing uses fewer GPUs (the cutting-stock LP bound, rounded up)."""

    @property
    def ffd_room_milli(self) -> int:
        return self.ffd_gpus * GPU_MILLI - self.demand_milli

    @property
    def least_room_milli(self) -> int:
        """Room that every packing of these shares leaves on the GPUs holding them."""
        return self.least_gpus * GPU_MILLI - self.demand_milli


def pack(shares: Sequence[int], size: int = GPU_MILLI) -> Packing:
    """The FFD packing and the cutting-stock lower bound of `shares` (each 1..`size`) into bins of `size`."""
    if any(s <= 0 or s > size for s in shares):
        raise ValueError(f"every share must be in 1..{size} milli-GPU")
    if not shares:
        return Packing(0, 0, 0, 0)
    return Packing(
        shares=len(shares),
        demand_milli=int(sum(shares)),
        ffd_gpus=first_fit_decreasing(shares, size),
        least_gpus=math.ceil(cutting_stock_bound(shares, size) - 1e-6),
    )


def cutting_stock_bound(shares: Sequence[int], size: int = GPU_MILLI) -> float:
    """The fewest bins, fractionally, that hold exactly these shares (a size repeats in a pattern at most
    as often as it occurs, which tightens the bound for rare sizes)."""
    counts = Counter(shares)
    return cutting_stock({s: float(n) for s, n in counts.items()}, size, limit=counts).gpus
