"""The execution backend contract: how the scheduler runs, watches and stops work on one pool.

One backend object per pool. The Ray Jobs API backend (`RayJobsBackend`) is the one implementation
today; a KubeRay backend (one RayJob custom resource per job) fits the same five calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scheduler.model import GangStrategy, Resources


class RunStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    MISSING = "MISSING"
    """The backend has no job with this submission id (never submitted, or forgotten)."""


TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED})


@dataclass(frozen=True, slots=True)
class Launch:
    """One attempt of a job, as the backend needs it."""

    submission_id: str
    """Deterministic per job and attempt: submitting the same id twice must start the job once."""
    entrypoint: str
    bundles: tuple[Resources, ...]
    strategy: GangStrategy = GangStrategy.PACK
    runtime_env: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    driver_holds_first_bundle: bool = True
    """Reserve the first bundle for the driver (a user's entrypoint); False for the built-in kinds,
    whose driver only coordinates and whose workers take every bundle themselves."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    status: RunStatus
    message: str = ""
    exit_code: int | None = None
    start_time: float | None = None
    """Unix seconds; None while the backend has not started it."""
    end_time: float | None = None


@dataclass(frozen=True, slots=True)
class NodeCapacity:
    """One node as the backend reports it; amounts in the policy's units."""

    id: str
    cpu_milli: int
    memory_mib: int
    gpu_count: int = 0
    gpu_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cpu_milli": self.cpu_milli,
            "memory_mib": self.memory_mib,
            "gpu_count": self.gpu_count,
            "gpu_type": self.gpu_type,
        }


@dataclass(frozen=True, slots=True)
class PoolHealth:
    healthy: bool
    message: str = ""
    nodes: tuple[NodeCapacity, ...] = ()
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per resource (CPU, GPU, memory in MiB), (used, total) as the backend reports it, our jobs or not."""
    reachable: bool = True
    """False when the cluster did not answer at all (unhealthy for want of live nodes is still reachable):
    only then are the jobs on it unknown to the scheduler, and given up after `pool_lost_after_s`."""


class Backend(ABC):
    """Runs jobs on one pool."""

    @abstractmethod
    def submit(self, launch: Launch) -> None:
        """Start the attempt; a second call with the same submission id must not start it again."""

    @abstractmethod
    def status(self, submission_id: str) -> RunInfo:
        """Where the attempt is; MISSING when the backend does not know it."""

    @abstractmethod
    def logs(self, submission_id: str, tail: int | None = None) -> str:
        """The driver's log (its last `tail` lines)."""

    @abstractmethod
    def stop(self, submission_id: str) -> None:
        """Ask the attempt to stop; stopping a finished or unknown attempt is not an error."""

    @abstractmethod
    def health(self) -> PoolHealth:
        """Live capacity, usage and health; never raises (an unreachable pool is unhealthy)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to release
        """Release connections."""
