"""Execution backends: how jobs run on a pool. `make_backend` picks one by the pool's `backend` name."""

from __future__ import annotations

from scheduler.backends.base import (
    TERMINAL,
    Backend,
    Launch,
    NodeCapacity,
    PoolHealth,
    RunInfo,
    RunStatus,
)
from scheduler.errors import BackendError
from scheduler.spec import ClusterPoolSpec

BACKENDS = ("ray-jobs",)
"""Backend names a pool may use; "kuberay" (RayJob custom resources) is the next one planned."""


def make_backend(spec: ClusterPoolSpec, timeout_s: float = 10.0) -> Backend:
    """The backend of one pool, authenticated with the pool's own token."""
    if spec.backend == "ray-jobs":
        from scheduler.backends.ray_jobs import RayJobsBackend, read_token

        return RayJobsBackend(
            spec.address, read_token(spec.auth_token, spec.auth_token_file), timeout_s, spec.node_group
        )
    raise ValueError(f"pool {spec.name}: backend {spec.backend!r} is unknown; use one of {BACKENDS}")


__all__ = [
    "BACKENDS",
    "TERMINAL",
    "Backend",
    "BackendError",
    "Launch",
    "NodeCapacity",
    "PoolHealth",
    "RunInfo",
    "RunStatus",
    "make_backend",
]
