"""Fault experiments on the live scheduler, shared by its integration tests and `bench/reliability`.

`crash_and_restart` is issue #12's scenario 3: many jobs queued on two real Ray clusters, two scheduler
service processes on one database (one leads, one waits), the leader killed with SIGKILL while jobs run,
the follower taking over, the killed one started again (it waits now). Every job's program appends one
line to its own marker file, so a job that ran twice shows two lines whatever the database says.

Whoever calls these must hold ``flock /tmp/brain-ray.lock`` (they drive Ray clusters).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scheduler.backends import RunStatus, make_backend
from scheduler.control import SchedulerControl
from scheduler.model import FINAL, ON_POOL, JobState
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, QueueSpec, TopologySpec
from scheduler.store import JobEventRow, JobRow, SchedulerStore
from tests.ray_clusters import RayCluster, poll, port_block, start_cluster

ROOT = Path(__file__).resolve().parents[1]
TENANTS = ("jinan-steel", "qingdao-port", "yantai-chem", "weifang-agri")


RESULTS = ROOT / "bench" / "results"


@contextlib.contextmanager
def two_clusters(cpus: int = 2) -> Iterator[tuple[dict[str, RayCluster], Path]]:
    """Two fresh local Ray clusters, jinan and qingdao, and a scratch folder; all removed after."""
    root = Path(tempfile.mkdtemp(prefix="brf-", dir="/tmp"))
    started: dict[str, RayCluster] = {}
    try:
        first = port_block(set())
        started["jinan"] = start_cluster("jinan", first, root, cpus=cpus)
        started["qingdao"] = start_cluster("qingdao", port_block({first}), root, cpus=cpus)
        yield started, root
    finally:
        for cluster in started.values():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def write_result(name: str, body: dict[str, Any]) -> None:
    """Keep a scenario's full figures in ``bench/results/reliability_<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"reliability_{name}.json").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")


def fresh_tag() -> str:
    """A prefix for a run's idempotency keys. Job ids derive from (tenant, key) and Ray submission ids from
    job ids, so two runs with the same keys on one Ray cluster would find each other's attempts there."""
    return uuid.uuid4().hex[:8]


def marker_job(markers: Path, key: str, seconds: float, gate: Path | None = None) -> str:
    """A driver that sleeps `seconds`, then appends one line to ``markers/key`` (one line per run); no Ray
    needed. With `gate` it runs instead until that file exists (at most 120 s): for a job that must be
    seen running while the test changes something around it, since a fixed sleep can end before a slow
    cycle sees the job start (admitted goes straight to succeeded) and the test would wait for a state
    that already went by."""
    wait = f"time.sleep({seconds})"
    if gate is not None:
        wait = f"end = time.time() + 120\nwhile not os.path.exists({str(gate)!r}) and time.time() < end: "
        wait += "time.sleep(0.1)"
    code = f"import os, time\n{wait}\nf = open({str(markers / key)!r}, 'a'); f.write('ran\\n'); f.close()"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def wait_running(client: SchedulerControl, pool: str, *ids: str, what: str) -> None:
    """Poll until every job of `ids` runs on `pool`; a timeout names each job's state and last events."""
    try:
        poll(lambda: all(client.job(j).state == "running" and client.job(j).pool == pool for j in ids), 90,
             what=what)  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{exc}: " + " | ".join(job_story(client.store, j) for j in ids)) from None


def job_story(store: SchedulerStore, job_id: str) -> str:
    """One job's state, pool and recent events, for a failure message that says where it got stuck."""
    job = store.job(job_id)
    events = "; ".join(f"{e.kind}: {e.detail}" for e in store.events(job_id)[-8:])
    return f"{job_id} is {job.state} on {job.pool} (attempt {job.attempt}); events: {events}"


def topology(clusters: dict[str, RayCluster], tenants: tuple[str, ...] = TENANTS) -> TopologySpec:
    return TopologySpec(
        pools=[
            ClusterPoolSpec(name=name, city=name, address=c.address, auth_token_file=str(c.token_file))
            for name, c in clusters.items()
        ],
        queues=[QueueSpec(name="shandong")]
        + [QueueSpec(name=t, parent="shandong", tenant=t) for t in tenants],
    )


def service(db_url: str, home: Path, log: Path, lease_s: float, max_jobs: int) -> subprocess.Popen[bytes]:
    """`python -m scheduler.service` on `db_url`, in its own session (so it can be killed alone)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BRAIN_MAX_JOBS_PER_POOL": str(max_jobs),
        "BRAIN_LEADER_LEASE_S": str(lease_s),
    }
    argv = [
        sys.executable,
        "-m",
        "scheduler.service",
        "--home",
        str(home),
        "--db-url",
        db_url,
        "--interval",
        "0.2",
    ]
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def end(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the service finishes its cycle and releases its lease), SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=30)


def _holder_pid(store: SchedulerStore) -> int | None:
    lease = store.lease("scheduler")
    if lease is None or lease.expires_at < time.time():
        return None
    return int(lease.holder.split(":")[1])


@dataclass
class CrashFigures:
    database: str
    jobs: int
    on_pool_at_kill: int
    queued_at_kill: int
    takeover_s: float
    lease_s: float
    ran_after_restart: int
    lost: int
    ran_twice: int
    ray_runs_twice: int
    both_led: bool
    """Two schedulers placing at once: their admissions interleave more often than the lease changed hands."""
    handovers: int
    """Times a scheduler took the lease (the first leader included); more than two: cycles outlasted it."""
    fifo_kept: bool
    fifo_breaks: list[str]
    """Where a tenant's admissions left submit order: each job admitted before an older one, with its
    events (empty when `fifo_kept`)."""
    admitted_after: dict[str, int]
    """Admissions per tenant by the schedulers after the kill, whatever became of the job."""
    share_spread: int
    """max − min of `admitted_after`; for the record only. Fair share (DRF, equal weights) evens out the
    slots tenants hold at each moment, not how many jobs each gets through: whose 0.5 s jobs happen to end
    first gets the next slot, and over ~14 admissions counts of 2 to 5 came from fair runs. (This was the
    pass criterion, ≤ 2, with counts of succeeded jobs; it failed 1 run in 8.)"""
    unfair_admissions: list[str]
    """Admissions after the kill that went to a tenant holding 2 or more slots more than another, all of
    them having jobs waiting: replayed from the job events in the order the database took them, which
    is the order the leader saw (reconcile, then admissions). One slot of slack: an admission the loop
    held back for a full pool was counted by the policy but has no event."""
    final_states: dict[str, int]
    seconds: float

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.ran_twice == 0
            and self.ray_runs_twice == 0
            and not self.both_led
            and self.fifo_kept
            and not self.unfair_admissions
            and self.takeover_s <= self.lease_s + 5
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def crash_and_restart(
    clusters: dict[str, RayCluster],
    db_url: str,
    root: Path,
    jobs: int = 1000,
    run_after: int = 24,
    lease_s: float = 4.0,
    max_jobs: int = 3,
) -> CrashFigures:
    """Queue `jobs`, kill the leading scheduler with SIGKILL while some run, let the follower take over and
    run `run_after` more, cancel the rest (queued ones end at once), and count what happened."""
    started = time.monotonic()
    markers = root / "markers"
    markers.mkdir(parents=True)
    settings = SchedulerSettings(home=root / "home", scheduler_db_url=db_url, max_queued_jobs_per_tenant=jobs)
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    tag = fresh_tag()
    services: list[subprocess.Popen[bytes]] = []
    try:
        client.apply(topology(clusters))
        ids = [
            client.submit(
                {"tenant": TENANTS[i % len(TENANTS)], "entrypoint": marker_job(markers, f"j{i}", 0.5),
                 "bundles": [{"cpu": 0.5}], "idempotency_key": f"{tag}-j{i}"}
            ).id
            for i in range(jobs)
        ]  # fmt: skip
        key_of = {job_id: f"j{i}" for i, job_id in enumerate(ids)}
        order = {job_id: i for i, job_id in enumerate(ids)}
        logs = [root / "a.log", root / "b.log", root / "a2.log"]
        services.append(service(db_url, settings.home, logs[0], lease_s, max_jobs))
        poll(lambda: _holder_pid(client.store) == services[0].pid, 60, what="the first scheduler to lead")
        services.append(service(db_url, settings.home, logs[1], lease_s, max_jobs))
        poll(lambda: "waiting:" in logs[1].read_text(), 60, what="the second scheduler to wait")
        poll(lambda: client.store.count_jobs(states=[JobState.RUNNING]) >= 2, 120, what="jobs running")
        services[0].send_signal(signal.SIGKILL)  # mid-cycle: admissions and submissions half done
        services[0].wait(timeout=30)
        killed_at, killed_wall = time.monotonic(), time.time()  # rows carry time.time() of this machine
        on_pool = client.store.count_jobs(states=ON_POOL)
        queued = client.store.count_jobs(states=[JobState.QUEUED])
        done_before = {j.id for j in client.store.jobs(states=FINAL)}
        poll(
            lambda: _holder_pid(client.store) == services[1].pid, lease_s + 30, every_s=0.05, what="takeover"
        )
        takeover = time.monotonic() - killed_at
        services.append(service(db_url, settings.home, logs[2], lease_s, max_jobs))  # the killed one, back
        poll(lambda: "waiting:" in logs[2].read_text(), 60, what="the restarted scheduler to wait")
        target = len(done_before) + on_pool + run_after
        poll(lambda: client.store.count_jobs(states=[JobState.SUCCEEDED]) >= target, 60 + 4 * run_after,
             what=f"{run_after} more jobs to succeed")  # fmt: skip
        for job in client.store.jobs(states=[JobState.QUEUED]):
            client.store.request_cancel(job.id)
        poll(lambda: client.store.count_jobs(states=[*ON_POOL, JobState.QUEUED]) == 0, 120, what="all ended")
        handovers = sum(log.read_text().count("leading as") for log in logs)
    finally:
        for process in services:
            end(process)
    rows = client.store.jobs()
    states = Counter(row.state for row in rows)
    lines = {
        key: len((markers / key).read_text().splitlines())
        for key in key_of.values()
        if (markers / key).exists()
    }
    succeeded = [row for row in rows if row.state == "succeeded"]
    # lost: a job the database no longer has, or one that succeeded without its marker (it never ran)
    lost = (jobs - len(rows)) + sum(1 for row in succeeded if lines.get(key_of[row.id], 0) == 0)
    ran_twice = sum(1 for n in lines.values() if n > 1)
    ray_runs: Counter[str] = Counter()
    for name in clusters:
        backend = make_backend(client.store.pool(name).pool_spec)
        for info in backend._jobs().list_jobs():  # type: ignore[attr-defined]
            job_id = (info.metadata or {}).get("brain_job")
            if job_id in order:
                ray_runs[job_id] += 1
    # Never both placing: the admissions, in order, change hands no more often than the lease did (two
    # schedulers placing at once would interleave theirs).
    # Every job's events, in the order the database took them (read once: both checks below replay them).
    events = sorted((e for row in rows for e in client.store.events(row.id)), key=lambda e: e.id)
    placed_by = [e.detail.rsplit(" by ", 1)[1] for e in events if e.kind == "admitted"]
    switches = sum(1 for a, b in itertools.pairwise(placed_by) if a != b)
    both_led = switches > handovers - 1
    admitted = sorted((row for row in rows if row.admitted_at), key=lambda row: row.admitted_at or 0.0)
    breaks: list[str] = []
    for t in TENANTS:
        mine = [r for r in admitted if r.tenant == t]
        for earlier, later in itertools.pairwise(mine):
            if order[earlier.id] > order[later.id]:
                story = "; ".join(f"{e.kind} {e.detail}" for e in client.store.events(earlier.id))
                breaks.append(f"{key_of[earlier.id]} before {key_of[later.id]}: {story}")
    fifo = not breaks
    after = Counter(r.tenant for r in admitted if (r.admitted_at or 0.0) >= killed_wall)
    admitted_after = {t: after.get(t, 0) for t in TENANTS}
    unfair = _unfair_admissions(events, rows, killed_wall, key_of)
    client.close()
    return CrashFigures(
        database=db_url.split(":", 1)[0].split("+")[0],
        jobs=jobs,
        on_pool_at_kill=on_pool,
        queued_at_kill=queued,
        takeover_s=round(takeover, 2),
        lease_s=lease_s,
        ran_after_restart=len(succeeded) - len(done_before),
        lost=lost,
        ran_twice=ran_twice,
        ray_runs_twice=sum(1 for n in ray_runs.values() if n > 1),
        both_led=both_led,
        handovers=handovers,
        fifo_kept=fifo,
        fifo_breaks=breaks,
        admitted_after=admitted_after,
        share_spread=max(admitted_after.values()) - min(admitted_after.values()),
        unfair_admissions=unfair,
        final_states=dict(states),
        seconds=round(time.monotonic() - started, 1),
    )


def _unfair_admissions(
    events: list[JobEventRow], rows: list[JobRow], since: float, key_of: dict[str, str]
) -> list[str]:
    """Replay the job events (in database order), counting the jobs each tenant holds on a pool; name
    each admission at or after `since` whose tenant held 2 or more more than the tenant holding fewest."""
    on_pool = {state.value for state in ON_POOL}
    tenant_of = {row.id: row.tenant for row in rows}
    held = dict.fromkeys(TENANTS, 0)
    holding: set[str] = set()
    unfair: list[str] = []
    for event in events:
        tenant = tenant_of[event.job_id]
        if event.kind == "admitted" and event.at >= since and held[tenant] - min(held.values()) > 1:
            unfair.append(f"{key_of.get(event.job_id, event.job_id)} for {tenant} holding {dict(held)}")
        if event.state in on_pool and event.job_id not in holding:
            holding.add(event.job_id)
            held[tenant] += 1
        elif event.state not in on_pool and event.job_id in holding:
            holding.remove(event.job_id)
            held[tenant] -= 1
    return unfair


def restart(cluster: RayCluster) -> RayCluster:
    """Start a stopped cluster again on its ports, with its token: a fresh Ray that knows no job."""
    base = int(cluster.gcs_address.rsplit(":", 1)[1])
    return start_cluster(
        cluster.name, base, cluster.temp_dir.parent, cpus=_cpus(cluster), token=cluster.token
    )


def _cpus(cluster: RayCluster) -> int:
    return 1 if "--num-cpus=1" in " ".join(map(str, cluster.process.args)) else 2  # type: ignore[arg-type]


def sleeper(seconds: float) -> str:
    code = f"import time; time.sleep({seconds})"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


@dataclass
class ClusterFaultFigures:
    forgotten_retried: bool
    """Scenario 5: the job with a retry left ran again, with an "outcome unknown, retried" event."""
    forgotten_lost: bool
    """Scenario 5: the job without one was marked lost, not run again."""
    forgotten_seen_s: float
    """From the restarted cluster answering to the scheduler's verdict on the forgotten jobs."""
    unhealthy_after_s: float
    """Scenario 4: from the head stopped to the pool marked unhealthy."""
    other_pool_served: bool
    """A job queued while the pool was down ran on the other pool."""
    resident_waited: bool
    """A job allowed only in the dead pool's city waited for it (and ran there once it was back)."""
    given_up_after_s: float
    """From the head stopped to the jobs on it given up (pool_lost_after_s plus a cycle)."""
    lost_after_s: float
    retried_elsewhere: bool
    marked_lost: bool
    recovered_after_s: float
    """From the restarted cluster answering to the pool healthy again."""
    ran_twice: int
    seconds: float

    @property
    def passed(self) -> bool:
        return (
            self.forgotten_retried
            and self.forgotten_lost
            and self.other_pool_served
            and self.resident_waited
            and self.retried_elsewhere
            and self.marked_lost
            and self.ran_twice == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def cluster_dies_and_returns(
    clusters: dict[str, RayCluster], db_url: str, root: Path, lost_after_s: float = 5.0
) -> ClusterFaultFigures:
    """Scenario 5, as issue #12 found it: two jobs finish on jinan while the scheduler is down, then jinan's
    Ray restarts (it forgets them) before the scheduler is back. Then scenario 4: jinan's head killed
    (SIGKILL to its process group) for longer than `lost_after_s` while two jobs run there, then started
    again; qingdao works throughout.

    `clusters["jinan"]` is replaced by its restarted self, so the caller stops the right processes."""
    import threading

    from scheduler.loop import Scheduler

    started = time.monotonic()
    markers = root / "markers"
    markers.mkdir(parents=True)
    settings = SchedulerSettings(
        home=root / "home", scheduler_db_url=db_url, cycle_interval_s=0.2, max_jobs_per_pool=4,
        pool_lost_after_s=600.0,
    )  # fmt: skip
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    client.apply(topology(clusters, ("jinan-steel", "qingdao-port")))
    store = client.store
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start_scheduler() -> Scheduler:
        scheduler = Scheduler(store, settings)
        stop = threading.Event()
        thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
        thread.start()
        running.append((stop, thread))
        return scheduler

    def stop_schedulers() -> None:
        while running:
            stop, thread = running.pop()
            stop.set()
            thread.join(timeout=30)

    scheduler = start_scheduler()
    tag = fresh_tag()
    jinan = make_backend(store.pool("jinan").pool_spec)

    keys: dict[str, str] = {}

    def job(
        key: str, seconds: float, retries: int, regions: list[str] | None = None, gate: Path | None = None
    ) -> str:
        spec: dict[str, Any] = {
            "tenant": "jinan-steel", "entrypoint": marker_job(markers, key, seconds, gate),
            "bundles": [{"cpu": 0.5}], "retries": retries, "idempotency_key": f"{tag}-{key}",
        }  # fmt: skip
        if regions:
            spec["allowed_regions"] = regions
        keys[key] = client.submit(spec).id
        return keys[key]

    def state(job_id: str) -> str:
        return client.job(job_id).state

    def kinds(job_id: str) -> list[str]:
        return [e.kind for e in store.events(job_id)]

    try:
        # --- scenario 5: jobs done on a cluster that restarts while the scheduler is down -----------------
        store.set_cordon("qingdao", cordoned=True)  # both land on jinan
        # they run until released, after the scheduler stops: a fixed-length job could end unseen
        release = root / "release-s5"
        again, once = job("s5-again", 0, 1, gate=release), job("s5-once", 0, 0, gate=release)
        wait_running(client, "jinan", again, once, what="on jinan")
        sids = [client.job(j).submission_id or "" for j in (again, once)]
        stop_schedulers()
        release.touch()
        poll(
            lambda: all(jinan.status(sid).status is RunStatus.SUCCEEDED for sid in sids),
            60,
            what="done on Ray",
        )
        store.set_cordon("qingdao", cordoned=False)
        clusters["jinan"].stop()
        clusters["jinan"] = restart(clusters["jinan"])
        scheduler = start_scheduler()
        back = time.monotonic()
        poll(
            lambda: "unknown-retried" in kinds(again) and "lost" in kinds(once),
            60,
            every_s=0.05,
            what="verdict",
        )
        seen = time.monotonic() - back
        forgotten_lost = state(once) == "failed" and "marked lost" in client.job(once).message
        # its retry runs to the end before jinan is killed below (where it would be given up for good)
        poll(lambda: state(again) == "succeeded", 90, what="the retry to succeed")
        forgotten_retried = client.job(again).attempt == 2

        # --- scenario 4: the head stopped for longer than pool_lost_after_s ------------------------------
        scheduler.settings.pool_lost_after_s = lost_after_s  # the settings object the running loop reads
        store.set_cordon("qingdao", cordoned=True)
        s4_again, s4_once = job("s4-again", 30, 1), job("s4-once", 30, 0)
        wait_running(client, "jinan", s4_again, s4_once, what="on jinan")
        store.set_cordon("qingdao", cordoned=False)
        with contextlib.suppress(ProcessLookupError):  # the head dies at once, as in a crash
            os.killpg(clusters["jinan"].process.pid, signal.SIGKILL)
        clusters["jinan"].process.wait(timeout=30)
        down = time.monotonic()
        poll(lambda: store.pool("jinan").health == "unhealthy", 30, every_s=0.05, what="jinan unhealthy")
        unhealthy = time.monotonic() - down
        elsewhere = job("s4-elsewhere", 0.5, 0)
        resident = job("s4-resident", 0.5, 0, ["jinan"])
        poll(lambda: "lost" in kinds(s4_once), lost_after_s + 30, every_s=0.05, what="given up")
        lost_after = time.monotonic() - down
        poll(lambda: state(elsewhere) == "succeeded", 60, what="the other pool keeps working")
        other_served = client.job(elsewhere).pool == "qingdao"
        poll(lambda: client.job(s4_again).pool == "qingdao", 30, what="retried on qingdao")
        given_up = lost_after  # both jobs are given up in the same cycle
        retried_elsewhere = "unknown-retried" in kinds(s4_again)
        marked_lost = state(s4_once) == "failed"
        waited = state(resident) == "queued"
        clusters["jinan"] = restart(clusters["jinan"])
        back = time.monotonic()
        poll(lambda: store.pool("jinan").health == "healthy", 60, every_s=0.05, what="jinan healthy again")
        recovered = time.monotonic() - back
        poll(lambda: state(resident) == "succeeded", 90, what="the resident job to run on jinan")
        resident_waited = waited and client.job(resident).pool == "jinan"
        for job_id in (s4_again,):
            poll(lambda job_id=job_id: state(job_id) == "succeeded", 90, what=f"{job_id} to succeed")  # type: ignore[misc]
    finally:
        stop_schedulers()
        jinan.close()
    # A second run is allowed only where an event says so (a retry); any other is a silent rerun.
    twice = 0
    for key, job_id in keys.items():
        path = markers / key
        runs = len(path.read_text().splitlines()) if path.exists() else 0
        allowed = 1 + sum(1 for e in store.events(job_id) if e.kind in ("retried", "unknown-retried"))
        twice += max(0, runs - allowed)
    client.close()
    return ClusterFaultFigures(
        forgotten_retried=forgotten_retried,
        forgotten_lost=forgotten_lost,
        forgotten_seen_s=round(seen, 2),
        unhealthy_after_s=round(unhealthy, 2),
        other_pool_served=other_served,
        resident_waited=resident_waited,
        given_up_after_s=round(given_up, 2),
        lost_after_s=lost_after_s,
        retried_elsewhere=retried_elsewhere,
        marked_lost=marked_lost,
        recovered_after_s=round(recovered, 2),
        ran_twice=twice,
        seconds=round(time.monotonic() - started, 1),
    )


@dataclass
class DrainFigures:
    moved: int
    overlap_s: float
    """Largest time an old attempt still ran on the drained pool after its new attempt started (0: none)."""
    moved_after_s: float
    finish_kept_running: bool
    """`drain finish`: the running job ended on its own on the drained pool, and nothing new landed there."""
    seconds: float

    @property
    def passed(self) -> bool:
        return self.moved == 2 and self.overlap_s <= 0 and self.finish_kept_running

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def drain_with_jobs_running(clusters: dict[str, RayCluster], db_url: str, root: Path) -> DrainFigures:
    """Scenario 8: jinan drained with `requeue` while two jobs run there, then with `finish`."""
    import threading

    from scheduler.loop import Scheduler

    started = time.monotonic()
    markers = root / "markers"
    markers.mkdir(parents=True)
    settings = SchedulerSettings(
        home=root / "home", scheduler_db_url=db_url, cycle_interval_s=0.2, max_jobs_per_pool=4
    )
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    client.apply(topology(clusters, ("jinan-steel",)))
    store = client.store
    stop = threading.Event()
    loop = threading.Thread(target=Scheduler(store, settings).run, args=(stop,), daemon=True)
    loop.start()
    backends = {name: make_backend(store.pool(name).pool_spec) for name in clusters}

    tag = fresh_tag()

    def job(key: str, seconds: float, gate: Path | None = None) -> str:
        spec = {"tenant": "jinan-steel", "entrypoint": marker_job(markers, key, seconds, gate),
                "bundles": [{"cpu": 0.5}], "idempotency_key": f"{tag}-{key}"}  # fmt: skip
        return client.submit(spec).id

    try:
        store.set_cordon("qingdao", cordoned=True)
        ids = [job("drain-0", 30), job("drain-1", 30)]
        wait_running(client, "jinan", *ids, what="both on jinan")
        old = {j: client.job(j).submission_id or "" for j in ids}
        store.set_cordon("qingdao", cordoned=False)
        store.set_cordon("jinan", cordoned=True, drain="requeue")
        drained = time.monotonic()
        wait_running(client, "qingdao", *ids, what="both moved to qingdao")
        moved_after = time.monotonic() - drained
        moved = sum(1 for j in ids if client.job(j).attempt == 2)
        overlap = 0.0
        for j in ids:
            before = backends["jinan"].status(old[j])
            after = backends["qingdao"].status(client.job(j).submission_id or "")
            assert before.end_time is not None and after.start_time is not None, (before, after)
            overlap = max(overlap, before.end_time - after.start_time)
        for j in ids:
            client.cancel(j)
        # drain "finish": the running job ends where it is; nothing new lands on the drained pool
        store.set_cordon("jinan", cordoned=False)
        store.set_cordon("qingdao", cordoned=True)
        # both jobs run until released, so the drain surely comes while the first runs
        release = root / "release-finish-0"
        stays = job("finish-0", 0, gate=release)
        wait_running(client, "jinan", stays, what="on jinan")
        store.set_cordon("qingdao", cordoned=False)
        store.set_cordon("jinan", cordoned=True, drain="finish")
        later = job("finish-1", 0, gate=release)
        wait_running(client, "qingdao", later, what="the later job on qingdao")
        release.touch()
        poll(lambda: client.job(stays).state == "succeeded" and client.job(later).state == "succeeded", 90,
             what="both done")  # fmt: skip
        finish_ok = (
            client.job(stays).pool == "jinan"
            and client.job(stays).attempt == 1
            and client.job(later).pool == "qingdao"
        )
    finally:
        stop.set()
        loop.join(timeout=30)
        for backend in backends.values():
            backend.close()
    client.close()
    return DrainFigures(
        moved=moved,
        overlap_s=round(overlap, 3),
        moved_after_s=round(moved_after, 2),
        finish_kept_running=finish_ok,
        seconds=round(time.monotonic() - started, 1),
    )
