"""Read the Alibaba GPU trace v2023 ("openb") into pools, nodes and jobs.

Rules that are ours, not the trace's (the trace has no pools, tenants or priorities):

- Nodes come from `openb_node_list_all_node.csv` (1,523 nodes, CPU-only ones included, as in the
  ATC'23 paper) or, when that file is absent, `openb_node_list_gpu_node.csv`. Node `sn` is put in the
  pool of city ``CITIES[crc32(sn) % 16]`` (one pool per Shandong city, all in one residency zone).
- Tenant of a task: ``CITIES[crc32(name) % 16]`` with `CITIES` the pinyin ids of the 16 Shandong cities
  in `scheduler.model.SHANDONG_CITIES` order; crc32 from zlib over the UTF-8 task name.
- Priority from `qos`: Guaranteed and LS 2, Burstable 1, BE (best effort) 0.
- Run time: ``deletion_time - scheduled_time``; tasks the original cluster never scheduled (no
  `scheduled_time`) run for ``deletion_time - creation_time``, the time they were alive.
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scheduler.errors import TraceNotFound
from scheduler.model import GPU_MILLI, SHANDONG_CITIES, Node, Pool, PoolKind, Resources

CITIES: tuple[str, ...] = tuple(SHANDONG_CITIES)
NODE_FILES = ("openb_node_list_all_node.csv", "openb_node_list_gpu_node.csv")
POD_FILE = "openb_pod_list_default.csv"
_PRIORITY = {"Guaranteed": 2, "LS": 2, "Burstable": 1, "BE": 0}


def tenant_of(name: str) -> str:
    """The city tenant a trace task is attributed to (stable across runs and machines)."""
    return CITIES[zlib.crc32(name.encode()) % len(CITIES)]


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    bundle: Resources
    priority: int
    tenant: str
    creation: float
    runtime: float


@dataclass(slots=True)
class Trace:
    pools: list[Pool]
    nodes: list[Node]
    tasks: list[Task]

    @property
    def gpu_capacity_milli(self) -> int:
        return sum(n.gpu_count for n in self.nodes) * GPU_MILLI

    def workload(self) -> list[tuple[Resources, float]]:
        """Task classes and how often each occurs: what FGD measures fragmentation against."""
        counts: dict[Resources, int] = {}
        for task in self.tasks:
            counts[task.bundle] = counts.get(task.bundle, 0) + 1
        return [(bundle, float(n)) for bundle, n in counts.items()]


def trace_available(folder: Path) -> str | None:
    """None when the trace is readable at `folder`, else what is missing."""
    if not (folder / POD_FILE).is_file():
        return POD_FILE
    if not any((folder / f).is_file() for f in NODE_FILES):
        return " or ".join(NODE_FILES)
    return None


def load_trace(folder: Path, limit: int | None = None) -> Trace:
    """The trace's nodes and its first `limit` tasks (all when None)."""
    folder = Path(folder).expanduser()
    missing = trace_available(folder)
    if missing is not None:
        raise TraceNotFound(str(folder), missing)
    node_file = next(folder / f for f in NODE_FILES if (folder / f).is_file())
    pools = [Pool(name=c, city=c, kind=PoolKind.REGIONAL, zone="shandong") for c in CITIES]
    nodes: list[Node] = []
    with node_file.open(newline="") as handle:
        for row in csv.DictReader(handle):
            gpus = int(row["gpu"])
            nodes.append(
                Node(
                    id=row["sn"],
                    pool=CITIES[zlib.crc32(row["sn"].encode()) % len(CITIES)],
                    cpu_milli=int(row["cpu_milli"]),
                    memory_mib=int(row["memory_mib"]),
                    gpu_count=gpus,
                    gpu_type=(row["model"] or None) if gpus else None,
                )
            )
    tasks: list[Task] = []
    with (folder / POD_FILE).open(newline="") as handle:
        for row in csv.DictReader(handle):
            if limit is not None and len(tasks) >= limit:
                break
            gpus = int(row["num_gpu"])
            milli = int(row["gpu_milli"]) if gpus == 1 else GPU_MILLI
            creation = float(row["creation_time"])
            start = float(row["scheduled_time"]) if row["scheduled_time"] else creation
            # One acceptable type becomes a constraint; a list of several is treated as "any" (a
            # Resources names one type). The column is empty throughout v2023.
            spec = row["gpu_spec"] if row["gpu_spec"] and "|" not in row["gpu_spec"] else None
            tasks.append(
                Task(
                    name=row["name"],
                    bundle=Resources(
                        cpu_milli=int(row["cpu_milli"]),
                        memory_mib=int(row["memory_mib"]),
                        gpu=gpus,
                        gpu_milli=milli if gpus else GPU_MILLI,
                        gpu_type=spec,
                    ),
                    priority=_PRIORITY.get(row["qos"], 0),
                    tenant=tenant_of(row["name"]),
                    creation=creation,
                    runtime=max(0.0, float(row["deletion_time"]) - start),
                )
            )
    return Trace(pools=pools, nodes=nodes, tasks=tasks)


def jain_index(values: list[float] | np.ndarray) -> float:
    """Jain's fairness index (sum x)^2 / (n * sum x^2): 1 when all equal, 1/n when one takes all."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or not (x**2).sum():
        return 1.0
    return float(x.sum() ** 2 / (x.size * (x**2).sum()))
