"""The placement and admission policy: pure and deterministic, state in, decisions out."""

from scheduler.policy._admission import schedule
from scheduler.policy.config import Ordering, PolicyConfig, policy_from_settings
from scheduler.policy.scorers import SCORERS, Scorer, make_scorer

__all__ = ["SCORERS", "Ordering", "PolicyConfig", "Scorer", "make_scorer", "policy_from_settings", "schedule"]
