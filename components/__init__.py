"""The built-in 知识 / 工艺 / 机理 algorithm components of the industry brains.

Each component generates its own seeded synthetic data, trains (torch) or assembles its parameters
(formula), evaluates itself against a simple baseline on held-out data and returns a `Trained` with a full
card; the model hub registers it (ONNX for torch modules, the formula runtime for formulas).
"""

from components.base import BuiltinComponent, Trained
from components.catalog import BUILTINS, builtin

__all__ = ["BUILTINS", "BuiltinComponent", "Trained", "builtin"]
