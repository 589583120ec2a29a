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

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scheduler.backends import BackendError, make_backend
from scheduler.errors import (
    Forbidden,
    PoolUnreachable,
    ResourcesImpossible,
    SpecInvalid,
    TooManyJobs,
    UnknownQueue,
    UnknownRegion,
    UnknownTenant,
)
from scheduler.kinds.params import (
    SECTIONS,
    BatchInferenceParams,
    GovernanceParams,
    TableSource,
    TrainingParams,
)
from scheduler.model import FINAL, JobState, city_id
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
        self._check_sandbox(spec)
        return self.store.put_pool(spec)

    def _check_sandbox(self, spec: ClusterPoolSpec) -> None:
        if spec.sandbox_for and spec.name in self.settings.centre_pools:
            raise SpecInvalid(
                f"pool {spec.name}",
                "it is on the capability centre's own cluster (BRAIN_CENTRE_POOLS) and cannot be a tenant's "
                "sandbox; grant a pool of a separate Ray cluster instead",
            )

    def sandbox_pools(self, tenant: str) -> list[str]:
        """The pools where `tenant` may run its own code: those granted to it, never the centre's own."""
        return sorted(
            row.name
            for row in self.store.pools()
            if tenant in row.pool_spec.sandbox_for and row.name not in self.settings.centre_pools
        )

    def apply(self, topology: TopologySpec, replace_queues: bool = False) -> tuple[int, int]:
        """Register every pool and queue of the topology; returns (pools, queues) written."""
        for pool in topology.pools:
            self._check_sandbox(pool)
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

    def check_queued_cap(self, tenant: str) -> None:
        """Raise TooManyJobs when `tenant` already holds the most queued jobs a tenant may."""
        cap = self.settings.max_queued_jobs_per_tenant
        if self.store.count_jobs(states=[JobState.QUEUED], tenant=tenant) >= cap:
            raise TooManyJobs(tenant, cap)

    def sandbox(self, request: JobRequest) -> JobRequest:
        """A tenant's job as the platform lets it run, or Forbidden / SpecInvalid saying why it may not.

        A tenant runs only the platform's programs (no kind entrypoint), sets no runtime_env but
        environment variables outside `job_env_denied_prefixes`, registers no version of the platform's
        components, and reads and writes only inside its storage root (`SchedulerSettings.tenant_root`)
        or an approved URI prefix. Relative paths are taken from the storage root; the request that comes
        back holds them resolved. Its own code (kind entrypoint, any runtime_env) runs only on the tenant
        sandbox pools it is granted (`ClusterPoolSpec.sandbox_for`): the request comes back bound to them.
        """
        if request.kind == "entrypoint" or not self._plain_env(request.runtime_env):
            return self._own_code(request)
        self._check_runtime_env(request.runtime_env)
        params = request.params
        root = self.settings.tenant_root(request.tenant)
        if isinstance(params, GovernanceParams | BatchInferenceParams):
            params = params.model_copy(
                update={
                    "input": self._confined_table(params.input, request.tenant, root),
                    "output": self._confined(params.output, request.tenant, root),
                }
            )
        elif isinstance(params, TrainingParams):
            if params.register_version and "register_version" in params.model_fields_set:
                raise Forbidden(
                    f"training of {params.component!r} may not register a version: the built-in components "
                    "are the platform's",
                    "set register: false (the model is written to the job's output), or ask an operator",
                )
            data = params.data
            if data.table is not None:
                data = data.model_copy(
                    update={"table": self._confined_table(data.table, request.tenant, root)}
                )
            output = params.output if params.output is not None else f"jobs/{request.id}"
            params = params.model_copy(
                update={
                    "register_version": False,
                    "data": data,
                    "output": self._confined(output, request.tenant, root),
                }
            )
        return request.model_copy(update={SECTIONS[request.kind]: params})

    def _own_code(self, request: JobRequest) -> JobRequest:
        granted = self.sandbox_pools(request.tenant)
        pools = sorted(set(request.pools or granted) & set(granted))
        if not pools:
            what = "kind entrypoint" if request.kind == "entrypoint" else "this runtime_env"
            self._check_runtime_env(request.runtime_env)  # the precise reason, when it is the env
            raise Forbidden(
                f"{what} runs the submitter's own code, which tenant {request.tenant!r} may run only on a "
                "sandbox pool granted to it, and it has none" + (" of those named" if granted else ""),
                "submit a built-in kind (training, batch-inference, governance) with its parameters, or "
                "ask the platform's operators for a sandbox pool",
            )
        if request.kind != "entrypoint":
            # A built-in kind with its own runtime_env still reads and writes only the tenant's storage.
            request = self.sandbox(request.model_copy(update={"runtime_env": None})).model_copy(
                update={"runtime_env": request.runtime_env}
            )
        return request.model_copy(update={"pools": pools})

    def _plain_env(self, env: Mapping[str, Any] | None) -> bool:
        try:
            self._check_runtime_env(env)
        except (Forbidden, SpecInvalid):
            return False
        return True

    def _check_runtime_env(self, env: Mapping[str, Any] | None) -> None:
        if not env:
            return
        extra = sorted(set(env) - {"env_vars"})
        if extra:
            raise Forbidden(
                f"runtime_env {', '.join(extra)} installs or loads code and is for the platform's operators",
                "give only runtime_env.env_vars, or ask an operator",
            )
        env_vars = env.get("env_vars") or {}
        if not isinstance(env_vars, Mapping):
            raise SpecInvalid("the job spec", "runtime_env.env_vars must map names to values")
        denied = self.settings.job_env_denied_prefixes
        bad = sorted(str(n) for n in env_vars if any(str(n).upper().startswith(p) for p in denied))
        if bad:
            raise Forbidden(
                f"runtime_env.env_vars {', '.join(bad)} steer the platform, the loader, Python or Ray",
                f"use names that start with none of {', '.join(denied)}",
            )

    def _confined_table(self, table: TableSource, tenant: str, root: Path) -> TableSource:
        return table.model_copy(update={"path": self._confined(table.path, tenant, root)})

    def _confined(self, path: str, tenant: str, root: Path) -> str:
        """`path` resolved inside `root`, or an approved URI; otherwise Forbidden naming the root."""
        if "://" in path:
            prefixes = [p.format(tenant=tenant) for p in self.settings.storage_uri_prefixes]
            if any(path.startswith(p) and ".." not in path[len(p) :].split("/") for p in prefixes):
                return path
            allowed = ", ".join(prefixes) or "none is approved"
            raise Forbidden(
                f"{path!r} is not under a URI prefix approved for tenant {tenant!r} ({allowed})",
                "ask an operator to approve the prefix (BRAIN_STORAGE_URI_PREFIXES)",
            )
        real_root = Path(os.path.realpath(root))
        resolved = Path(os.path.realpath(real_root / path))  # an absolute `path` replaces the root
        if resolved != real_root and real_root not in resolved.parents:
            raise Forbidden(
                f"{path!r} is outside tenant {tenant!r}'s storage ({root})",
                "use a path inside it (a relative path is taken from it)",
            )
        return str(resolved)

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
