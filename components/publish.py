"""Training the built-in components and registering them in the model hub.

`brain up` calls :func:`ensure_builtins` on every start: components already registered are reused,
the missing ones are trained and registered, so a rerun costs nothing and a half-finished first
run completes on the next one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.base import BuiltinComponent, Trained
from model_hub import Lineage, Registry, Version
from model_hub.reference_stats import record_training_reference


@dataclass(frozen=True)
class Published:
    name: str
    version: Version
    trained: bool  # False: it was already registered and reused
    seconds: float


def register_trained(registry: Registry, trained: Trained, *, lineage: Lineage, new_version: bool) -> Version:
    """Register what a built-in's training produced: ONNX for torch modules, the formula runtime otherwise."""
    if trained.torch_module is not None:
        version = registry.register_torch(
            trained.card,
            trained.torch_module,
            trained.sample_inputs,
            lineage=lineage,
            new_version=new_version,
        )
        if trained.reference_inputs is not None:
            record_training_reference(registry, version.name, version.version, trained.reference_inputs)
        return version
    assert trained.formula is not None
    return registry.register_formula(
        trained.card, trained.formula, trained.parameters or {}, lineage=lineage, new_version=new_version
    )


def git_commit() -> str | None:
    """The short commit of this checkout, recorded as lineage; None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def publish(
    registry: Registry,
    components: Sequence[BuiltinComponent],
    *,
    retrain: bool = False,
    seed: int = 0,
    training_job: str | None = None,
    on_done: Callable[[Published], None] | None = None,
) -> list[Published]:
    """Train and register ``components``; with ``retrain`` False, reuse those already registered."""
    import time

    commit = git_commit()
    results: list[Published] = []
    for component in components:
        started = time.perf_counter()
        exists = registry.catalog.card(component.name) is not None
        if exists and not retrain:
            version = registry.version(component.name)
            result = Published(component.name, version, False, 0.0)
        else:
            trained = component.train(seed=seed)
            lineage = Lineage(
                training_job=training_job, data_snapshot=f"synthetic-seed-{seed}", git_commit=commit
            )
            version = register_trained(registry, trained, lineage=lineage, new_version=exists)
            version = registry.promote(component.name, version.version, "production")
            result = Published(component.name, version, True, time.perf_counter() - started)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results


def ensure_builtins(
    registry: Registry, on_done: Callable[[Published], None] | None = None
) -> list[Published]:
    """Every built-in registered and in production, the built-in pipelines last (their steps must
    exist); trains and registers only what is missing."""
    from components.catalog import ADAPTERS, BUILTINS

    registry.sync()
    published = publish(registry, [*BUILTINS, *ADAPTERS], on_done=on_done)
    return published + publish_pipelines(registry, on_done=on_done)


def publish_pipelines(
    registry: Registry, on_done: Callable[[Published], None] | None = None
) -> list[Published]:
    """Register the built-in pipelines that are missing and put them in production."""
    import time

    from components.pipelines import PIPELINES

    results: list[Published] = []
    for builtin in PIPELINES:
        started = time.perf_counter()
        if registry.catalog.card(builtin.name) is not None:
            result = Published(builtin.name, registry.version(builtin.name), False, 0.0)
        else:
            version = registry.register_pipeline(builtin.spec(), lineage=Lineage(git_commit=git_commit()))
            version = registry.promote(builtin.name, version.version, "production")
            result = Published(builtin.name, version, True, time.perf_counter() - started)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results
