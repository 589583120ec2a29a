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
- `gpu_spec`: the GPU types the task accepts (``A|B``); it is placed only on a node of one of them.

Workload variants (`openb_pod_list_<variant>.csv`, e.g. gpuspec20, multigpu30) differ in their columns:
the resource columns are required (`fill` needs nothing else); `gpu_spec` and `qos` are optional; the
time columns are needed only by `replay`, which refuses a trace without them (`Trace.require_times`).
A malformed file raises `TraceInvalid` naming the file, the line and what to fix.
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from scheduler.errors import ResourcesImpossible, TraceInvalid, TraceNotFound
from scheduler.model import GPU_MILLI, SHANDONG_CITIES, Node, Pool, PoolKind, Resources, parse_gpu_types

CITIES: tuple[str, ...] = tuple(SHANDONG_CITIES)
NODE_FILES = ("openb_node_list_all_node.csv", "openb_node_list_gpu_node.csv")
POD_PREFIX = "openb_pod_list_"
DEFAULT_VARIANT = "default"
POD_FILE = f"{POD_PREFIX}{DEFAULT_VARIANT}.csv"
NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
RESOURCE_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
"""What every pod list must have: enough for `fill`."""
TIME_COLUMNS = ("creation_time", "deletion_time", "scheduled_time")
"""What `replay` needs besides."""
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
    """Seconds from trace start; 0 when the pod list has no times."""
    runtime: float


@dataclass(slots=True)
class Trace:
    pools: list[Pool]
    nodes: list[Node]
    tasks: list[Task]
    variant: str = DEFAULT_VARIANT
    pod_file: str = POD_FILE
    missing_times: tuple[str, ...] = ()
    """Time columns the pod list lacks: empty when `replay` can use it."""

    @property
    def gpu_capacity_milli(self) -> int:
        return sum(n.gpu_count for n in self.nodes) * GPU_MILLI

    def workload(self) -> list[tuple[Resources, float]]:
        """Task classes and how often each occurs: what FGD measures fragmentation against."""
        counts: dict[Resources, int] = {}
        for task in self.tasks:
            counts[task.bundle] = counts.get(task.bundle, 0) + 1
        return [(bundle, float(n)) for bundle, n in counts.items()]

    def require_times(self) -> None:
        """Refuse, naming the missing columns, a trace that cannot be replayed on a clock."""
        if self.missing_times:
            raise TraceInvalid(
                self.pod_file,
                1,
                f"the header lacks {', '.join(self.missing_times)}, which replay needs (fill does not)",
                "replay a variant with times (e.g. default, gpuspec20), or run `brain sim fill` on this one",
            )


def pod_file(variant: str) -> str:
    return f"{POD_PREFIX}{variant}.csv"


def trace_variants(folder: Path) -> list[str]:
    """The workload variants in `folder` (default first, then by name)."""
    found = sorted(
        p.name[len(POD_PREFIX) : -len(".csv")] for p in Path(folder).expanduser().glob(f"{POD_PREFIX}*.csv")
    )
    return sorted(found, key=lambda v: (v != DEFAULT_VARIANT, v))


def trace_available(folder: Path, variant: str = DEFAULT_VARIANT) -> str | None:
    """None when the trace is readable at `folder`, else what is missing."""
    if not (folder / pod_file(variant)).is_file():
        return pod_file(variant)
    if not any((folder / f).is_file() for f in NODE_FILES):
        return " or ".join(NODE_FILES)
    return None


class _Rows:
    """A CSV file read row by row, with the checks that turn bad cells into `TraceInvalid`."""

    def __init__(self, path: Path, required: tuple[str, ...]) -> None:
        self.path = path
        self.name = path.name
        self.line = 1
        self._handle = path.open(newline="")
        self._reader = csv.DictReader(self._handle)
        self.columns = tuple(c.strip() for c in (self._reader.fieldnames or ()))
        missing = [c for c in required if c not in self.columns]
        if missing:
            self._handle.close()
            raise TraceInvalid(
                self.name,
                1,
                f"the header lacks column(s) {', '.join(missing)} "
                f"(it has: {', '.join(self.columns) or 'nothing'})",
                f"give the file a header with at least {', '.join(required)}",
            )

    def __iter__(self) -> Iterator[dict[str, str]]:
        try:
            for row in self._reader:
                self.line = self._reader.line_num
                if None in row or any(v is None for v in row.values()):
                    self.fail(
                        f"{len(self.columns)} columns expected by the header, not this many",
                        "give every row one value per header column",
                    )
                yield row
        finally:
            self._handle.close()

    def fail(self, problem: str, fix: str) -> NoReturn:
        raise TraceInvalid(self.name, self.line, problem, fix)

    def number(self, row: dict[str, str], column: str, *, integer: bool = True) -> float:
        """The cell as a non-negative number; whole when `integer` ("12.0" counts as whole)."""
        text = row[column].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        kind = "a whole number" if integer else "a number"
        if not math.isfinite(value) or (integer and not value.is_integer()):
            self.fail(f"{column}={text!r} is not {kind}", f"write {column} as {kind}")
        if value < 0:
            self.fail(f"{column}={text} is negative", f"write {column} as zero or more")
        return value


def _read_nodes(path: Path) -> list[Node]:
    rows = _Rows(path, NODE_COLUMNS)
    nodes: list[Node] = []
    seen: dict[str, int] = {}
    for row in rows:
        sn = row["sn"].strip()
        if not sn:
            rows.fail("the node has no sn", "give every node a name in column sn")
        if sn in seen:
            rows.fail(f"node {sn} appears twice (first on line {seen[sn]})", "give every node its own sn")
        seen[sn] = rows.line
        gpus = int(rows.number(row, "gpu"))
        model = row["model"].strip()
        if gpus and not model:
            rows.fail(f"node {sn} has {gpus} GPUs but no model", "name the GPU type in column model")
        nodes.append(
            Node(
                id=sn,
                pool=CITIES[zlib.crc32(sn.encode()) % len(CITIES)],
                cpu_milli=int(rows.number(row, "cpu_milli")),
                memory_mib=int(rows.number(row, "memory_mib")),
                gpu_count=gpus,
                gpu_type=model if gpus else None,
            )
        )
    if not nodes:
        raise TraceInvalid(path.name, 1, "the node list has no nodes", "list at least one node")
    return nodes


def _read_tasks(path: Path, limit: int | None, node_types: set[str]) -> tuple[list[Task], tuple[str, ...]]:
    rows = _Rows(path, RESOURCE_COLUMNS)
    missing_times = tuple(c for c in TIME_COLUMNS if c not in rows.columns)
    has_times = not missing_times
    has_spec = "gpu_spec" in rows.columns
    has_qos = "qos" in rows.columns
    tasks: list[Task] = []
    for row in rows:
        if limit is not None and len(tasks) >= limit:
            break
        gpus = int(rows.number(row, "num_gpu"))
        milli = int(rows.number(row, "gpu_milli"))
        if gpus == 1 and not 0 < milli <= GPU_MILLI:
            rows.fail(
                f"gpu_milli={milli} for a one-GPU task", f"give the share of the GPU it uses, 1..{GPU_MILLI}"
            )
        types = parse_gpu_types(row["gpu_spec"]) if has_spec and gpus else None
        if types is not None and not types & node_types:
            rows.fail(
                f"gpu_spec {row['gpu_spec']} names no GPU type of the node list "
                f"({', '.join(sorted(node_types))})",
                "use the node list this pod list was published with, or fix the GPU type names",
            )
        creation = runtime = 0.0
        if has_times:
            creation = rows.number(row, "creation_time", integer=False)
            ended = rows.number(row, "deletion_time", integer=False)
            start = (
                rows.number(row, "scheduled_time", integer=False)
                if row["scheduled_time"].strip()
                else creation
            )
            runtime = max(0.0, ended - start)
        try:
            bundle = Resources(
                cpu_milli=int(rows.number(row, "cpu_milli")),
                memory_mib=int(rows.number(row, "memory_mib")),
                gpu=gpus,
                gpu_milli=milli if gpus == 1 else GPU_MILLI,
                gpu_types=types,
            )
        except ResourcesImpossible as error:
            rows.fail(str(error), "fix the task's resources")
        name = row["name"].strip() or f"{path.stem}-line{rows.line}"
        tasks.append(
            Task(
                name=name,
                bundle=bundle,
                priority=_PRIORITY.get(row["qos"], 0) if has_qos else 0,
                tenant=tenant_of(name),
                creation=creation,
                runtime=runtime,
            )
        )
    return tasks, missing_times


def load_trace(folder: Path, limit: int | None = None, variant: str = DEFAULT_VARIANT) -> Trace:
    """The trace's nodes and the first `limit` tasks (all when None) of one workload variant."""
    folder = Path(folder).expanduser()
    missing = trace_available(folder, variant)
    if missing is not None:
        known = trace_variants(folder) if folder.is_dir() else []
        hint = f" (variants here: {', '.join(known)})" if known and variant not in known else ""
        raise TraceNotFound(str(folder), missing + hint)
    node_file = next(folder / f for f in NODE_FILES if (folder / f).is_file())
    pools = [Pool(name=c, city=c, kind=PoolKind.REGIONAL, zone="shandong") for c in CITIES]
    nodes = _read_nodes(node_file)
    types = {n.gpu_type for n in nodes if n.gpu_type}
    tasks, missing_times = _read_tasks(folder / pod_file(variant), limit, types)
    return Trace(
        pools=pools,
        nodes=nodes,
        tasks=tasks,
        variant=variant,
        pod_file=pod_file(variant),
        missing_times=missing_times,
    )


def jain_index(values: list[float] | np.ndarray) -> float:
    """Jain's fairness index (sum x)^2 / (n * sum x^2): 1 when all equal, 1/n when one takes all."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or not (x**2).sum():
        return 1.0
    return float(x.sum() ** 2 / (x.size * (x**2).sum()))
