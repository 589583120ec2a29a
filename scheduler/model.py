"""The scheduler's domain objects: resources, pools, nodes, jobs and the queue tree.

Plain dataclasses; the user-facing, validated forms of the same things are in `scheduler.spec`.
Amounts are integers: CPU in millicores, memory in MiB, GPU in thousandths of one GPU ("milli"), as in
the Alibaba GPU trace, so that sums never drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.errors import QueueTreeInvalid, ResourcesImpossible

GPU_MILLI = 1000
"""One whole GPU in milli units."""

SHANDONG_CITIES: dict[str, str] = {
    "jinan": "济南",
    "qingdao": "青岛",
    "zibo": "淄博",
    "zaozhuang": "枣庄",
    "dongying": "东营",
    "yantai": "烟台",
    "weifang": "潍坊",
    "jining": "济宁",
    "taian": "泰安",
    "weihai": "威海",
    "rizhao": "日照",
    "linyi": "临沂",
    "dezhou": "德州",
    "liaocheng": "聊城",
    "binzhou": "滨州",
    "heze": "菏泽",
}
"""The 16 prefecture-level cities of Shandong, pinyin id → Chinese name."""


def city_id(name: str) -> str | None:
    """The pinyin id of a city given by id or Chinese name, or None when it is not a Shandong city."""
    key = name.strip().lower()
    if key in SHANDONG_CITIES:
        return key
    for pinyin, hanzi in SHANDONG_CITIES.items():
        if name.strip() == hanzi:
            return pinyin
    return None


class PoolKind(StrEnum):
    REGIONAL = "regional"  # 区域中心
    INDUSTRY = "industry"  # 行业中心
    ENTERPRISE = "enterprise"


class GangStrategy(StrEnum):
    PACK = "PACK"  # as few nodes as possible, but may span nodes
    SPREAD = "SPREAD"  # as many distinct nodes as possible
    STRICT_PACK = "STRICT_PACK"  # all bundles on one node or not at all


@dataclass(frozen=True, slots=True)
class Amount:
    """A quantity of the three scheduled resources (for quotas and usage)."""

    cpu_milli: int = 0
    memory_mib: int = 0
    gpu_milli: int = 0

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.cpu_milli, self.memory_mib, self.gpu_milli)

    def __add__(self, other: Amount) -> Amount:
        return Amount(
            self.cpu_milli + other.cpu_milli,
            self.memory_mib + other.memory_mib,
            self.gpu_milli + other.gpu_milli,
        )


def parse_gpu_types(spec: str | Iterable[str] | None) -> frozenset[str] | None:
    """The set of GPU types named by `spec`: one type ("A10"), several ("A10|T4" as in the Alibaba trace's
    `gpu_spec`, or a list); None or empty names no constraint."""
    if spec is None:
        return None
    parts = spec.split("|") if isinstance(spec, str) else list(spec)
    types = frozenset(p.strip() for p in parts if p.strip())
    return types or None


def common_gpu_types(bundles: Iterable[Resources]) -> frozenset[str] | None:
    """The GPU types one node must have to hold all of `bundles` (a single-node gang): the types every
    bundle that names some accepts. None: any type; an empty set: no type can hold them all."""
    common: frozenset[str] | None = None
    for bundle in bundles:
        if bundle.gpu_types is not None:
            common = bundle.gpu_types if common is None else common & bundle.gpu_types
    return common


@dataclass(frozen=True, slots=True)
class Quota:
    """A quota that may leave resources out: None means "not constrained by this quota", never zero.

    (A guarantee of {cpu: 1} that read as "and 0 MiB of memory" silently made every job that asks for
    memory a borrower, and borrowers can be preempted and queue behind others.)
    """

    cpu_milli: int | None = None
    memory_mib: int | None = None
    gpu_milli: int | None = None

    def as_tuple(self) -> tuple[int | None, int | None, int | None]:
        return (self.cpu_milli, self.memory_mib, self.gpu_milli)


@dataclass(frozen=True, slots=True)
class Resources:
    """What one bundle (one process / pod) needs on a single node.

    `gpu` whole GPUs, each used to `gpu_milli`/1000. Sharing a GPU (gpu_milli < 1000) is only possible for
    a single GPU, as in the Alibaba trace: a bundle never takes slices of several GPUs.
    """

    cpu_milli: int = 0
    memory_mib: int = 0
    gpu: int = 0
    gpu_milli: int = GPU_MILLI
    gpu_types: frozenset[str] | None = None
    """The GPU types the bundle accepts (it runs on a node of one of them and on no other); None: any."""

    def __post_init__(self) -> None:
        if self.gpu_types is not None and not self.gpu_types:
            raise ResourcesImpossible(
                "an empty set of acceptable GPU types", "name at least one GPU type, or none to accept any"
            )
        if self.cpu_milli < 0 or self.memory_mib < 0 or self.gpu < 0:
            raise ResourcesImpossible(
                f"negative resources requested "
                f"({self.cpu_milli} mCPU, {self.memory_mib} MiB, {self.gpu} GPU)",
                "request zero or more of each",
            )
        if not 0 < self.gpu_milli <= GPU_MILLI:
            raise ResourcesImpossible(
                f"gpu_milli={self.gpu_milli} is outside 1..1000", "ask for a share of one GPU in (0, 1]"
            )
        if self.gpu > 1 and self.gpu_milli != GPU_MILLI:
            raise ResourcesImpossible(
                f"{self.gpu} GPUs at {self.gpu_milli / GPU_MILLI:g} of a GPU each",
                "only a single GPU can be shared; ask for whole GPUs when you need more than one",
            )

    @property
    def gpu_total_milli(self) -> int:
        return self.gpu * self.gpu_milli

    @property
    def amount(self) -> Amount:
        return Amount(self.cpu_milli, self.memory_mib, self.gpu_total_milli)

    @property
    def shape(self) -> tuple[int, int, int, int, frozenset[str] | None]:
        """A hashable key: bundles of the same shape fit, or fail to fit, on the same nodes."""
        return (self.cpu_milli, self.memory_mib, self.gpu, self.gpu_milli if self.gpu else 0, self.gpu_types)


@dataclass(frozen=True, slots=True)
class Pool:
    """A Ray cluster (or a labelled node group inside one) with its placement-relevant metadata."""

    name: str
    city: str
    kind: PoolKind = PoolKind.REGIONAL
    zone: str = "shandong"
    """Data-residency zone (域): a job restricted to zones only lands on pools inside them."""
    price_per_gpu_hour: float = 0.0
    """Price in yuan per GPU-hour (CPU-only work is charged per 8 cores as one GPU)."""
    carbon_g_per_kwh: float = 0.0
    """Grid carbon intensity where the pool's data centre is."""
    cordoned: bool = False
    """A cordoned pool takes no new work; running work stays."""


@dataclass(slots=True)
class Node:
    """One machine of a pool: capacity and what is allocated on it."""

    id: str
    pool: str
    cpu_milli: int
    memory_mib: int
    gpu_count: int = 0
    gpu_type: str | None = None
    cpu_used: int = 0
    memory_used: int = 0
    gpu_used_milli: list[int] = field(default_factory=list)
    """Per GPU, the share in use (0..1000); GPU sharing as in the Alibaba trace."""

    def __post_init__(self) -> None:
        if not self.gpu_used_milli:
            self.gpu_used_milli = [0] * self.gpu_count
        if len(self.gpu_used_milli) != self.gpu_count:
            raise ResourcesImpossible(
                f"node {self.id} has {self.gpu_count} GPUs but {len(self.gpu_used_milli)} usage entries",
                "give one usage entry per GPU",
            )


@dataclass(frozen=True, slots=True)
class Job:
    """A workload: one or more bundles admitted together (a gang), all or nothing."""

    id: str
    tenant: str
    queue: str
    bundles: tuple[Resources, ...]
    priority: int = 0
    strategy: GangStrategy = GangStrategy.PACK
    allowed_regions: frozenset[str] | None = None
    """Cities or residency zones the job may run in; None means anywhere."""
    submit_time: float = 0.0
    runtime: float | None = None
    """Expected (simulator: actual) run time in seconds, if known."""
    pools: frozenset[str] | None = None
    """Pools the job may run on; None means any (a tenant's own code runs on its sandbox pools only)."""

    def __post_init__(self) -> None:
        if not self.bundles:
            raise ResourcesImpossible(
                f"job {self.id} has no bundles", "give at least one bundle of resources"
            )

    @property
    def demand(self) -> Amount:
        total = Amount()
        for bundle in self.bundles:
            total = total + bundle.amount
        return total


@dataclass(frozen=True, slots=True)
class BundlePlacement:
    """Where one bundle goes: a node (index into the cluster) and the GPUs on it."""

    node: int
    gpus: tuple[int, ...] = ()
    gpu_milli: int = 0
    """Share taken on each GPU in `gpus`."""


@dataclass(frozen=True, slots=True)
class Admit:
    """Start `job_id` with one placement per bundle."""

    job_id: str
    placements: tuple[BundlePlacement, ...]


@dataclass(frozen=True, slots=True)
class Preempt:
    """Stop `job_id` and put it back in its queue (it keeps its submit time, so it is not starved)."""

    job_id: str
    reason: str
    for_job: str


Decision = Admit | Preempt


@dataclass(frozen=True, slots=True)
class Queue:
    """A node of the queue tree: province → city or industry brain → tenant.

    Quotas are per resource. `guaranteed` is the nominal quota; the queue may go `borrowing_limit`
    above it (None: as far as its parent allows) and lends at most `lending_limit` of its unused
    guarantee to siblings (None: all of it). Lent capacity is reclaimed by preemption.
    """

    name: str
    parent: str | None = None
    tenant: str | None = None
    """Set on leaf queues: the tenant whose jobs this queue holds."""
    guaranteed: Amount | Quota | None = None
    """None means unlimited (the root of a tree without a configured province quota); so does a resource
    a `Quota` leaves out."""
    borrowing_limit: Amount | Quota | None = None
    lending_limit: Amount | Quota | None = None
    weight: float = 1.0
    """Fair-share weight: a tenant with weight 2 gets twice the dominant share of one with weight 1."""


class QueueTree:
    """The validated queue hierarchy with leaf-to-root paths precomputed."""

    def __init__(self, queues: Iterable[Queue]) -> None:
        self.queues: dict[str, Queue] = {}
        for queue in queues:
            if queue.name in self.queues:
                raise QueueTreeInvalid(f"queue {queue.name!r} appears twice")
            if queue.weight <= 0:
                raise QueueTreeInvalid(
                    f"queue {queue.name!r} has weight {queue.weight}; use a positive weight"
                )
            self.queues[queue.name] = queue
        roots = [q.name for q in self.queues.values() if q.parent is None]
        if len(roots) != 1:
            raise QueueTreeInvalid(f"it needs exactly one root queue, found {roots}")
        self.root = roots[0]
        self.children: dict[str, list[str]] = {name: [] for name in self.queues}
        for queue in self.queues.values():
            if queue.parent is not None:
                if queue.parent not in self.queues:
                    raise QueueTreeInvalid(f"queue {queue.name!r} names unknown parent {queue.parent!r}")
                self.children[queue.parent].append(queue.name)
        self.paths: dict[str, tuple[str, ...]] = {}
        for name in self.queues:
            path = [name]
            while (parent := self.queues[path[-1]].parent) is not None:
                if parent in path:
                    raise QueueTreeInvalid(f"queue {name!r} is part of a cycle")
                path.append(parent)
            self.paths[name] = tuple(path)
        self.leaves: list[str] = [name for name, kids in self.children.items() if not kids]
        self.tenant_queue: dict[str, str] = {}
        for queue in self.queues.values():
            if queue.tenant is not None:
                if self.children[queue.name]:
                    raise QueueTreeInvalid(f"queue {queue.name!r} has a tenant but also child queues")
                self.tenant_queue[queue.tenant] = queue.name

    @classmethod
    def flat(cls, tenants: Sequence[str], guaranteed: Amount | None = None) -> QueueTree:
        """A province root with one leaf queue per tenant, each with the same guarantee."""
        queues = [Queue("shandong")]
        queues += [Queue(t, parent="shandong", tenant=t, guaranteed=guaranteed) for t in tenants]
        return cls(queues)


class JobState(StrEnum):
    QUEUED = "queued"
    """Waiting for the policy to admit it."""
    ADMITTED = "admitted"
    """Admitted and sent (or about to be sent) to its pool; Ray may still be starting it."""
    RUNNING = "running"
    STOPPING = "stopping"
    """Asked to stop (cancel, preemption, drain, max run time); goes back to QUEUED when `requeue` is set."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ON_POOL = (JobState.ADMITTED, JobState.RUNNING, JobState.STOPPING)
"""States in which a job holds capacity of a pool (and counts against its in-flight limit)."""
FINAL = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
