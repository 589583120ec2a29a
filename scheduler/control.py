"""In-process control of the live scheduler: register pools and queues, submit, watch and cancel jobs.

It works on the scheduler's database directly (the service picks changes up in its next cycle), so it
needs no running service to queue work; the REST API and the operator's CLI are built on it. Remote
callers use the SDK over the REST API instead (`scheduler.sdk`).

    from scheduler.control import SchedulerControl
    client = SchedulerControl.open()
    job = client.submit({"tenant": "jinan-steel", "entrypoint": "/opt/venv/bin/python train.py",
                         "bundles": [{"cpu": 2}], "allowed_regions": ["济南"], "idempotency_key": "run-42"})
    client.wait(job.id)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scheduler.backends import BackendError, make_backend
from scheduler.errors import (
    PoolUnreachable,
    ResourcesImpossible,
    SpecInvalid,
    UnknownQueue,
    UnknownRegion,
    UnknownTenant,
)
from scheduler.model import FINAL, city_id
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, JobRequest, QueueSpec, TopologySpec, unoffered_kind
from scheduler.state import ClusterState
from scheduler.store import JobRow, PoolRow, SchedulerStore, job_id_for_key, new_job_id
from scheduler.views import pool_model


def one_line(error: ValidationError) -> str:
    """A pydantic error as one line: where, and what was wrong."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "spec"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_job(data: Mapping[str, Any]) -> JobRequest:
    """A job request from user input; the job id comes from the idempotency key when there is one."""
    values = dict(data)
    if not values.get("id"):
        key, tenant = values.get("idempotency_key"), values.get("tenant")
        values["id"] = job_id_for_key(str(tenant), str(key)) if key and tenant else new_job_id()
    try:
        return JobRequest.model_validate(values)
    except ValidationError as exc:
        raise SpecInvalid("the job spec", one_line(exc)) from None


def read_yaml(path: Path, what: str) -> Any:
    """A YAML (or JSON) file's content; a missing or malformed file is one SpecInvalid line."""
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecInvalid(f"{what} {path}", exc.strerror or str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise SpecInvalid(f"{what} {path}", f"{problem}{where}") from None


def load_topology(path: Path) -> TopologySpec:
    data = read_yaml(path, "topology file")
    try:
        return TopologySpec.model_validate(data or {})
    except ValidationError as exc:
        raise SpecInvalid(f"topology file {path}", one_line(exc)) from None


class SchedulerControl:
    """The scheduler's operations on its store, each checked the way the REST API checks it."""

    def __init__(self, store: SchedulerStore, settings: SchedulerSettings | None = None) -> None:
        self.store = store
        self.settings = settings or SchedulerSettings()

    @classmethod
    def open(cls, settings: SchedulerSettings | None = None) -> SchedulerControl:
        settings = settings or SchedulerSettings()
        return cls(SchedulerStore.open(settings), settings)

    def close(self) -> None:
        self.store.close()

    # --- pools and queues -------------------------------------------------------------------------

    def add_pool(self, spec: ClusterPoolSpec | Mapping[str, Any]) -> PoolRow:
        if not isinstance(spec, ClusterPoolSpec):
            try:
                spec = ClusterPoolSpec.model_validate(dict(spec))
            except ValidationError as exc:
                raise SpecInvalid("the pool spec", one_line(exc)) from None
        return self.store.put_pool(spec)

    def apply(self, topology: TopologySpec, replace_queues: bool = False) -> tuple[int, int]:
        """Register every pool and queue of the topology; returns (pools, queues) written."""
        if topology.queues:
            self.store.put_queues(topology.queues, replace=replace_queues)
        for pool in topology.pools:
            self.store.put_pool(pool)
        return len(topology.pools), len(topology.queues)

    def put_queues(self, queues: list[QueueSpec]) -> None:
        self.store.put_queues(queues)

    # --- jobs -------------------------------------------------------------------------------------

    def submit(self, spec: JobRequest | Mapping[str, Any]) -> JobRow:
        """Validate a job against the topology and queue it (once per idempotency key)."""
        request = spec if isinstance(spec, JobRequest) else parse_job(spec)
        queue = self.validate(request)
        return self.store.submit(request, queue).job

    def validate(self, request: JobRequest) -> str:
        """Raise a clear error for a job naming unknown things or asking the impossible; its leaf queue."""
        if request.kind != "entrypoint" and request.kind not in self.settings.job_programs:
            raise SpecInvalid("the job spec", unoffered_kind(request.kind, self.settings.job_programs))
        tree = self.store.queue_tree()
        if tree is None or request.tenant not in tree.tenant_queue:
            raise UnknownTenant(request.tenant)
        queue = tree.tenant_queue[request.tenant]
        if request.queue is not None and request.queue != queue:
            raise UnknownQueue(f"{request.queue} (tenant {request.tenant} submits to {queue})")
        pools, nodes = [], []
        for row in self.store.pools():
            pool, pool_nodes = pool_model(row)
            pools.append(pool)
            nodes += pool_nodes
        if not pools:
            raise ResourcesImpossible("no pool is registered", "add one with `brain pools add` first")
        job = request.to_model(queue)
        if nodes:
            ClusterState(pools, nodes, tree).validate(job)  # capacity known: the full check
        elif job.allowed_regions is not None:
            regions = {p.zone for p in pools} | {p.city for p in pools}
            for region in job.allowed_regions:
                if region not in regions and city_id(region) not in regions:
                    raise UnknownRegion(region, regions)
        return queue

    def job(self, job_id: str) -> JobRow:
        return self.store.job(job_id)

    def cancel(self, job_id: str) -> JobRow:
        return self.store.request_cancel(job_id)

    def logs(self, job_id: str, tail: int | None = None) -> str:
        """The job's driver log from its pool, or the tail kept when it ended."""
        job = self.store.job(job_id)
        if job.pool is None or job.submission_id is None:
            return job.logs_tail
        row = self.store.pool(job.pool)
        try:
            return make_backend(row.pool_spec, self.settings.ray_timeout_s).logs(job.submission_id, tail)
        except BackendError as exc:
            if job.logs_tail:
                return job.logs_tail
            raise PoolUnreachable(row.name, row.pool_spec.address, str(exc)) from None

    def wait(self, job_id: str, timeout_s: float = 600.0, poll_s: float = 0.5) -> JobRow:
        """Poll until the job has ended (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.store.job(job_id)
            if job.state in FINAL:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.state} after {timeout_s:g} s")
            time.sleep(poll_s)
