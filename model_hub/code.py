"""Code that components name by import path: only from the platform's allowed packages.

Formula components and components kept in torch both point at code rather than carry it; the code
comes from packages installed with the platform (reviewed, versioned), never from the artifact.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from model_hub.errors import SafetyError


def resolve_entrypoint(
    entrypoint: str, allowed: list[str], what: str, error: type[SafetyError]
) -> Callable[..., Any]:
    """Import ``package.module:name`` if it lives in an allowed package; raise ``error`` otherwise."""
    module_name, _, attr = entrypoint.partition(":")
    if not module_name or not attr:
        raise error(f"{what} entrypoint {entrypoint!r} must look like 'package.module:name'")
    if module_name.split(".")[0] not in allowed:
        raise error(
            f"{what} entrypoint {entrypoint!r} is outside the allowed packages {allowed}; "
            f"put the code in one of them or add its package to BRAIN_FORMULA_PACKAGES"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise error(f"cannot import {module_name!r} for {what} {entrypoint!r}: {exc}") from None
    target: object = getattr(module, attr, None)
    if not callable(target):
        raise error(f"{module_name!r} has no function or class {attr!r}")
    return target
