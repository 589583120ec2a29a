"""Share patterns: the cutting-stock optimum of a workload's GPU shares, and FGD following it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scheduler.policy.scorers.fgd import Fgd
from scheduler.policy.scorers.patterns import SharePatterns, cutting_stock, share_patterns
from scheduler.sim import Trace, load_trace, run_fill
from scheduler.sim import _fill as fill_module
from tests.unit.scheduler.builders import TRACE_DIR, needs_trace


def test_the_optimum_pairs_shares_that_fill_a_gpu() -> None:
    optimum = cutting_stock({810: 10, 160: 10, 470: 20})
    assert optimum.gpus == pytest.approx(20.0)  # ten 0.81 + 0.16, ten 0.47 + 0.47
    assert set(optimum.patterns) == {((160, 1), (810, 1)), ((470, 2),)}
    assert sum(optimum.uses) == pytest.approx(20.0)


def test_a_share_joins_only_gpus_whose_pattern_it_continues() -> None:
    patterns = SharePatterns({810: 10, 160: 10, 470: 20})
    used = np.array([0, 810, 470, 160, 630])
    # 0.16 joins an empty GPU or a 0.81 (810 + 160), not a 0.47 (no pattern holds both).
    assert patterns.joins(160, used).tolist() == [True, True, False, False, False]
    # 0.47 joins an empty GPU or another 0.47; never beside 0.81 or 0.16.
    assert patterns.joins(470, used).tolist() == [True, False, True, False, False]
    assert patterns.joins(550, used) is None  # not in the workload: no pattern to follow


def test_patterns_are_cached_for_the_same_mix() -> None:
    mix = ((320, 0.5), (650, 0.5))
    assert share_patterns(mix) is share_patterns(mix)
    assert share_patterns(mix).joins(320, np.array([650, 320])).tolist() == [True, False]


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="1..1000"):
        cutting_stock({0: 1.0})
    with pytest.raises(ValueError, match="1..1000"):
        cutting_stock({1200: 1.0})
    assert cutting_stock({}).gpus == 0.0


@pytest.fixture(scope="module")
def quarter_trace() -> Trace:
    """The first 2,000 tasks of the Alibaba trace on every 4th node (381 nodes, about 1,550 GPUs)."""
    trace = load_trace(TRACE_DIR, limit=2000)
    return replace(trace, nodes=trace.nodes[::4])


@needs_trace
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_following_the_patterns_strands_less_than_fgd_alone(
    quarter_trace: Trace, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same arrivals filled twice, with and without the pattern rule: with it, the room left at 100%
    is within 2 GPUs of the best packing of the shares placed (0-1 on these seeds, 6-9 without), and
    more is allocated."""
    with_patterns = run_fill(quarter_trace, ("fgd",), max_demand=1.05, seed=seed).curves[0]
    monkeypatch.setattr(fill_module, "make_scorer", lambda name, workload: Fgd(workload, patterns=0.0))
    without = run_fill(quarter_trace, ("fgd",), max_demand=1.05, seed=seed).curves[0]

    loss, loss_without = with_patterns.placement_loss_gpus(), without.placement_loss_gpus()
    assert loss is not None and loss_without is not None
    assert loss <= 2.0 < loss_without
    assert with_patterns.at(1.0).allocated_share > without.at(1.0).allocated_share
