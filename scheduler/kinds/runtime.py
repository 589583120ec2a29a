"""What a built-in job program reads from the scheduler, on the cluster: its bundles and node group.

The backend passes the job's gang in ``BRAIN_BUNDLES`` (one dict of Ray resources per bundle) and, on
a node-group pool, the group's custom resource (``BRAIN_NODE_RESOURCE``) or labels
(``BRAIN_NODE_LABELS``). Every task and actor of the job asks for them, so the work stays on the
group and within what the policy admitted.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from scheduler.backends.ray_jobs import NODE_LABELS_ENV, NODE_RESOURCE_ENV
from scheduler.kinds.params import parse_params

P = TypeVar("P", bound=BaseModel)

_SLIVER = 0.001


@dataclass(frozen=True)
class JobResources:
    bundles: list[dict[str, float]] = field(default_factory=lambda: [{"CPU": 1.0}])
    node_resource: str | None = None
    node_labels: dict[str, str] = field(default_factory=dict)
    strategy: str = "PACK"
    """How the bundles are placed (`BRAIN_STRATEGY`): PACK, SPREAD or STRICT_PACK, as Ray names them."""

    @classmethod
    def from_env(cls) -> JobResources:
        """From the scheduler's env vars; a program run by hand gets one 1-CPU bundle anywhere."""
        raw = os.environ.get("BRAIN_BUNDLES")
        bundles = [{k: float(v) for k, v in b.items() if v} for b in json.loads(raw)] if raw else None
        labels = os.environ.get(NODE_LABELS_ENV)
        return cls(
            bundles=bundles or [{"CPU": 1.0}],
            node_resource=os.environ.get(NODE_RESOURCE_ENV) or None,
            node_labels=json.loads(labels) if labels else {},
            strategy=os.environ.get("BRAIN_STRATEGY") or "PACK",
        )

    @property
    def group_resources(self) -> dict[str, float]:
        """What every task and actor adds to its resources to stay on the node group."""
        return {self.node_resource: _SLIVER} if self.node_resource else {}

    def remote_args(self, cpu: float | None = None) -> dict[str, Any]:
        """`ray_remote_args` of a Ray Data operator: the group's resource or labels."""
        args: dict[str, Any] = {}
        if cpu is not None:
            args["num_cpus"] = cpu
        if self.group_resources:
            args["resources"] = dict(self.group_resources)
        if self.node_labels:
            args["label_selector"] = dict(self.node_labels)
        return args

    def worker_resources(self) -> dict[str, float]:
        """What each of a Ray Train job's workers (one per bundle) asks for, with the group's resource.

        Ray Train's workers are alike; for a gang of unlike bundles each worker gets what every bundle
        has (the smallest of each resource), so the job never holds more than the policy admitted.
        """
        names = set.intersection(*(set(b) for b in self.bundles)) if self.bundles else set()
        each = {name: min(b[name] for b in self.bundles) for name in sorted(names)}
        return each | self.group_resources

    def total(self, name: str) -> float:
        return sum(b.get(name, 0.0) for b in self.bundles)

    def limit_ray_data(self) -> None:
        """Keep Ray Data of this driver within the job's bundles (CPU, GPU, memory)."""
        import ray.data
        from ray.data import ExecutionResources

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.resource_limits = ExecutionResources(
            cpu=max(self.total("CPU"), 1.0),
            gpu=self.total("GPU"),
            object_store_memory=None,
        )


def program_args(prog: str) -> argparse.Namespace:
    """``--job-id ID --params JSON``: how the scheduler calls every built-in program."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    parser.add_argument("--params", required=True, help="the kind's parameters as JSON")
    parser.add_argument("--job-id", default=None, help="the scheduler's job id (lineage, summaries)")
    return parser.parse_args()


def run_program(prog: str, model: type[P], run: Callable[[P, str | None, JobResources], object]) -> int:
    """The ``main`` of every built-in program: its arguments, its parameters, and ``run`` on Ray."""
    args = program_args(prog)
    params = parse_params(model, args.params)
    import ray

    ray.init(log_to_driver=False)
    try:
        run(params, args.job_id, JobResources.from_env())
    finally:
        ray.shutdown()
    return 0


def read_table(path: str, fmt: str, resources: JobResources) -> Any:
    """A Ray Dataset over a CSV or Parquet file or folder, read on the job's node group."""
    import ray.data

    args = resources.remote_args()
    if fmt == "csv":
        return ray.data.read_csv(path, ray_remote_args=args)
    return ray.data.read_parquet(path, ray_remote_args=args)


def write_json(path: str, body: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        json.dump(body, out, indent=2, sort_keys=True, ensure_ascii=False)
        out.write("\n")
    print(json.dumps(body, sort_keys=True, ensure_ascii=False), flush=True)
