"""The Ray Jobs API backend: one `JobSubmissionClient` per pool (one Ray cluster).

Auth: Ray 2.60 turns token authentication on when ``~/.ray/auth_token`` exists (or ``RAY_AUTH_MODE=token``).
The token of each pool is sent explicitly as ``Authorization: Bearer …``, so one scheduler can talk to
clusters with different tokens, and a cluster without auth needs none.

Entrypoints run with the PATH of the process that started the Ray node: give interpreters by absolute
path. The job's first bundle is reserved for the driver (``entrypoint_num_cpus`` and friends), so Ray
itself holds a driver back while another tenant's work occupies the node; the whole gang is passed in
``BRAIN_BUNDLES`` / ``BRAIN_STRATEGY`` for the job to build its placement group (Ray Train does so).
The built-in job kinds reserve nothing for the driver: their workers take the bundles.

A pool on a node group sees only the group's nodes, and its jobs' drivers ask for a sliver of the
group's custom resource (or its labels); the name is passed in ``BRAIN_NODE_RESOURCE`` (or
``BRAIN_NODE_LABELS``) so the job's workers ask for it too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests
from ray.dashboard.modules.job.sdk import JobSubmissionClient
from ray.exceptions import AuthenticationError

from scheduler.backends.base import (
    Backend,
    Launch,
    NodeCapacity,
    PoolHealth,
    RunInfo,
    RunStatus,
)
from scheduler.errors import BackendError
from scheduler.model import GPU_MILLI
from scheduler.spec import NodeSelector

_MIB = 1024 * 1024
_SLIVER = 0.001

NODE_RESOURCE_ENV = "BRAIN_NODE_RESOURCE"
"""Env var of a job on a node-group pool: the group's custom resource, for the job's own tasks to ask."""
NODE_LABELS_ENV = "BRAIN_NODE_LABELS"
TENANT_ENV = "BRAIN_JOB_TENANT"
"""The tenant a job runs for, set by the scheduler (a tenant may set no BRAIN_* variable itself): the
platform's programs check what that tenant may see and change."""
"""Env var of a job on a labelled node-group pool: the group's labels (JSON), for label selectors."""


def read_token(token: str | None, token_file: str | None) -> str | None:
    """The pool's token: given inline, or read from its file; None means the cluster needs none."""
    if token:
        return token.strip()
    if token_file:
        path = Path(token_file).expanduser()
        try:
            return path.read_text().strip() or None
        except OSError as exc:
            raise BackendError(f"cannot read the auth token file {path}: {exc.strerror}") from exc
    return None


class _JobMissing(RuntimeError):
    """Ray answered 404 Not Found for one job: it has no job of that submission id."""


class _TimedClient(JobSubmissionClient):
    """The Jobs API client with a timeout on every request: the SDK sets none, and one hung cluster
    must not stall the scheduling of every other pool."""

    def __init__(self, address: str, headers: dict[str, str], timeout_s: float) -> None:
        self.timeout_s = timeout_s  # set first: the base constructor already makes a request
        super().__init__(address, headers=headers)

    def _do_request(self, method: str, endpoint: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        response: requests.Response = super()._do_request(method, endpoint, **kwargs)
        # Known by the HTTP status, not by the words of the SDK's error (which change between releases).
        if response.status_code == 404 and endpoint.startswith("/api/jobs/"):
            raise _JobMissing(f"{method} {endpoint}: 404 Not Found")
        return response


class RayJobsBackend(Backend):
    """Runs each job as one Ray job, with the submission id as Ray's `submission_id`."""

    def __init__(
        self,
        address: str,
        token: str | None = None,
        timeout_s: float = 10.0,
        node_group: NodeSelector | None = None,
    ) -> None:
        """`node_group`: the pool is only those nodes of the cluster; jobs stay on them."""
        if not address.startswith(("http://", "https://")):
            raise ValueError(f"the Ray Jobs API address {address!r} must start with http:// or https://")
        self.address = address.rstrip("/")
        self.timeout_s = timeout_s
        self.node_group = node_group
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client: _TimedClient | None = None

    # The client checks the cluster's version when built, so it is built on first use (and again after
    # a failure): a pool that is down at start-up must not keep the scheduler from starting.
    def _jobs(self) -> _TimedClient:
        if self._client is None:
            try:
                self._client = _TimedClient(self.address, dict(self._headers), self.timeout_s)
            except (requests.RequestException, ConnectionError, AuthenticationError, RuntimeError) as exc:
                raise BackendError(f"cannot reach the Ray Jobs API at {self.address}: {exc}") from exc
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (requests.RequestException, ConnectionError, AuthenticationError) as exc:
            self._client = None
            raise BackendError(f"{what} at {self.address} failed: {exc}") from exc

    def submit(self, launch: Launch) -> None:
        first = launch.bundles[0]
        runtime_env = dict(launch.runtime_env or {})
        env_vars = dict(runtime_env.get("env_vars") or {})
        env_vars["BRAIN_BUNDLES"] = json.dumps(
            [
                {
                    "CPU": b.cpu_milli / 1000,
                    "memory": b.memory_mib * _MIB,
                    "GPU": b.gpu_total_milli / GPU_MILLI,
                }
                for b in launch.bundles
            ]
        )
        env_vars["BRAIN_STRATEGY"] = launch.strategy.value
        if "brain_tenant" in launch.metadata:
            env_vars[TENANT_ENV] = launch.metadata["brain_tenant"]
        resources: dict[str, float] = {}
        labels: dict[str, str] | None = None
        group = self.node_group
        if group is not None and group.resource is not None:
            # A sliver of the group's resource: it pins the driver to the group and costs nothing.
            resources[group.resource] = _SLIVER
            env_vars[NODE_RESOURCE_ENV] = group.resource
        elif group is not None:
            labels = dict(group.labels or {})
            env_vars[NODE_LABELS_ENV] = json.dumps(labels, sort_keys=True)
        runtime_env["env_vars"] = env_vars
        driver: dict[str, Any] = {}
        if launch.driver_holds_first_bundle:
            driver = {
                "entrypoint_num_cpus": first.cpu_milli / 1000,
                "entrypoint_num_gpus": first.gpu_total_milli / GPU_MILLI if first.gpu else None,
                "entrypoint_memory": first.memory_mib * _MIB if first.memory_mib else None,
            }
            types = sorted(first.gpu_types or ())
            if len(types) == 1:
                resources[f"accelerator_type:{types[0]}"] = _SLIVER
            elif types:
                # Ray's resources cannot say "one of these"; its node labels can (Ray sets the label
                # from the accelerator it detects).
                labels = {**(labels or {}), "ray.io/accelerator-type": f"in({','.join(types)})"}
        client = self._jobs()
        try:
            self._call(
                "submitting a job",
                client.submit_job,
                entrypoint=launch.entrypoint,
                submission_id=launch.submission_id,
                runtime_env=runtime_env,
                metadata=launch.metadata,
                entrypoint_resources=resources or None,
                entrypoint_label_selector=labels,
                **driver,
            )
        except RuntimeError as exc:
            # Ray refuses a submission id it already has: the attempt was submitted before (a retry
            # after a timeout, or a scheduler that crashed between submitting and recording it).
            if self.status(launch.submission_id).status is not RunStatus.MISSING:
                return
            raise BackendError(f"Ray refused job {launch.submission_id}: {exc}") from exc

    def status(self, submission_id: str) -> RunInfo:
        client = self._jobs()
        try:
            info = self._call("reading a job", client.get_job_info, submission_id)
        except _JobMissing:
            return RunInfo(RunStatus.MISSING)
        except RuntimeError as exc:
            raise BackendError(f"reading job {submission_id} failed: {exc}") from exc
        return RunInfo(
            status=RunStatus(str(info.status.value)),
            message=info.message or "",
            exit_code=info.driver_exit_code,
            start_time=info.start_time / 1000 if info.start_time else None,
            end_time=info.end_time / 1000 if info.end_time else None,
        )

    def logs(self, submission_id: str, tail: int | None = None) -> str:
        client = self._jobs()
        try:
            text: str = self._call("reading logs", client.get_job_logs, submission_id)
        except RuntimeError as exc:
            raise BackendError(f"reading the logs of {submission_id} failed: {exc}") from exc
        if tail is not None:
            text = "\n".join(text.splitlines()[-tail:]) if tail else ""
        return text

    def stop(self, submission_id: str) -> None:
        client = self._jobs()
        try:
            self._call("stopping a job", client.stop_job, submission_id)
        except _JobMissing:
            return
        except RuntimeError as exc:
            raise BackendError(f"stopping {submission_id} failed: {exc}") from exc

    def _get(self, path: str) -> dict[str, Any]:
        response = requests.get(self.address + path, headers=self._headers, timeout=self.timeout_s)
        if response.status_code in (401, 403):
            raise BackendError(
                f"the cluster refused our auth token ({response.status_code}); give the pool its "
                "auth_token_file (Ray 2.60 token auth)"
            )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def health(self) -> PoolHealth:
        try:
            body = self._get("/api/v0/nodes?detail=true&limit=10000")
            status = self._get("/api/cluster_status")
        except BackendError as exc:  # it answered, refusing our token: its jobs run on, unwatched
            self._client = None
            return PoolHealth(healthy=False, message=str(exc))
        except (requests.RequestException, ValueError) as exc:
            self._client = None
            return PoolHealth(healthy=False, message=str(exc), reachable=False)
        nodes: list[NodeCapacity] = []
        for node in body.get("data", {}).get("result", {}).get("result", []):
            if node.get("state") != "ALIVE":
                continue
            total: dict[str, float] = node.get("resources_total") or {}
            if self.node_group is not None and not self.node_group.selects(total, node.get("labels") or {}):
                continue
            gpu_type = next((k.split(":", 1)[1] for k in total if k.startswith("accelerator_type:")), None)
            gpus = int(total.get("GPU", 0))
            nodes.append(
                NodeCapacity(
                    id=str(node["node_id"]),
                    cpu_milli=round(total.get("CPU", 0) * 1000),
                    memory_mib=int(total.get("memory", 0) // _MIB),
                    gpu_count=gpus,
                    gpu_type=gpu_type if gpus else None,
                )
            )
        metrics = (status.get("data", {}).get("clusterStatus") or {}).get("loadMetricsReport") or {}
        if self.node_group is None:
            usage = _usage(metrics.get("usage") or {})
        else:
            # Only the group's nodes: Ray reports usage per node as well as for the whole cluster.
            ids = {n.id for n in nodes}
            by_node: dict[str, dict[str, list[float]]] = metrics.get("usageByNode") or {}
            summed: dict[str, list[float]] = {}
            for node_id, per in by_node.items():
                if node_id in ids:
                    for name, (used, total_amount) in per.items():
                        acc = summed.setdefault(name, [0.0, 0.0])
                        acc[0] += float(used)
                        acc[1] += float(total_amount)
            usage = _usage(summed)
        if not nodes:
            where = "the cluster has no live node"
            if self.node_group is not None:
                group = self.node_group.model_dump(exclude_none=True)
                where = f"no live node of the cluster is in the node group {group}"
            return PoolHealth(healthy=False, message=where, usage=usage)
        return PoolHealth(healthy=True, message="", nodes=tuple(nodes), usage=usage)


def _usage(report: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """(used, total) of CPU, GPU and memory (MiB) from Ray's usage report."""
    usage: dict[str, tuple[float, float]] = {}
    for name, scale in (("CPU", 1.0), ("GPU", 1.0), ("memory", 1.0 / _MIB)):
        if name in report:
            used, total_amount = report[name][0], report[name][1]
            usage[name] = (float(used) * scale, float(total_amount) * scale)
    return usage
