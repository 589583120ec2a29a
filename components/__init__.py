"""The built-in 知识 / 工艺 / 机理 algorithm components of the industry brains.

Each component generates its own seeded synthetic data, trains (torch) or assembles its parameters
(formula), evaluates itself against a simple baseline on held-out data and returns a `Trained` with a full
card; the model hub registers it (ONNX for torch modules, the formula runtime for formulas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.base import BuiltinComponent, Trained
    from components.catalog import BUILTINS, builtin

__all__ = ["BUILTINS", "BuiltinComponent", "Trained", "builtin"]


def __getattr__(name: str) -> Any:
    # The catalogue pulls in torch and scikit-learn. The formula runtime imports only
    # `components.<name>.formula`, which must stay light, so the exports load on first use.
    if name in ("BuiltinComponent", "Trained"):
        from components import base

        return getattr(base, name)
    if name in ("BUILTINS", "builtin"):
        from components import catalog

        return getattr(catalog, name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
