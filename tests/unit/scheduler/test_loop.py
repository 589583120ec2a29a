"""The live loop's bookkeeping against an in-memory backend: admission control, crash-safe submission,
retries, preemption that requeues, cancel, metrics. (The same loop on real Ray clusters is in
tests/integration/scheduler.)"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from scheduler.backends import Backend, BackendError, Launch, NodeCapacity, PoolHealth, RunInfo, RunStatus
from scheduler.control import SchedulerControl
from scheduler.loop import Scheduler
from scheduler.settings import SchedulerSettings
from scheduler.spec import AmountSpec, ClusterPoolSpec, QueueSpec, TopologySpec
from scheduler.store import SchedulerStore


class FakeBackend(Backend):
    """A pool that runs nothing: tests move its jobs through Ray's states by hand."""

    def __init__(self, cpus: float = 4.0) -> None:
        self.cpus = cpus
        self.runs: dict[str, RunInfo] = {}
        self.submissions: Counter[str] = Counter()
        self.fail_next_submit = False
        self.launches: dict[str, Launch] = {}
        self.down = False
        """The cluster does not answer: unhealthy, and every call fails."""

    def submit(self, launch: Launch) -> None:
        if self.down:
            raise BackendError("connection refused")
        if self.fail_next_submit:
            self.fail_next_submit = False
            raise BackendError("connection reset")
        if launch.submission_id in self.runs:
            return
        self.submissions[launch.submission_id] += 1
        self.launches[launch.metadata["brain_job"]] = launch
        self.runs[launch.submission_id] = RunInfo(RunStatus.PENDING)

    def status(self, submission_id: str) -> RunInfo:
        if self.down:
            raise BackendError("connection refused")
        return self.runs.get(submission_id, RunInfo(RunStatus.MISSING))

    def logs(self, submission_id: str, tail: int | None = None) -> str:
        return f"log of {submission_id}"

    def stop(self, submission_id: str) -> None:
        if self.down:
            raise BackendError("connection refused")
        if submission_id in self.runs and self.runs[submission_id].status not in (
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
        ):
            self.runs[submission_id] = RunInfo(RunStatus.STOPPED, "stopped")

    def health(self) -> PoolHealth:
        if self.down:
            return PoolHealth(False, "connection refused", reachable=False)
        node = NodeCapacity(id="node-1", cpu_milli=round(self.cpus * 1000), memory_mib=64 * 1024)
        return PoolHealth(True, nodes=(node,), usage={"CPU": (0.0, self.cpus)})

    def set(
        self, submission_id: str, status: RunStatus, message: str = "", exit_code: int | None = None
    ) -> None:
        self.runs[submission_id] = RunInfo(status, message, exit_code, start_time=1.0, end_time=2.0)


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


def open_client(home: Path) -> SchedulerControl:
    """A scheduler database in ``home`` with the jinan pool and two tenants' queues."""
    settings = SchedulerSettings(
        home=home,
        max_jobs_per_pool=2,
        placement_scorer="best-fit",
        job_programs={"batch-inference": "jobs.batch_inference"},
    )
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    two_cpu = AmountSpec(cpu=2, memory_mib=32 * 1024)
    client.apply(
        TopologySpec(
            pools=[ClusterPoolSpec(name="jinan", city="jinan", address="http://127.0.0.1:1")],
            queues=[
                QueueSpec(name="shandong"),
                QueueSpec(name="a", parent="shandong", tenant="a", guaranteed=two_cpu),
                QueueSpec(name="b", parent="shandong", tenant="b", guaranteed=two_cpu),
            ],
        )
    )
    return client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[SchedulerControl]:
    client = open_client(tmp_path)
    yield client
    client.close()


@pytest.fixture
def scheduler(client: SchedulerControl, fake: FakeBackend) -> Scheduler:
    return Scheduler(client.store, client.settings, backends={"jinan": fake})


def submit(client: SchedulerControl, tenant: str = "a", cpu: float = 1.0, **extra: object) -> str:
    spec: dict[str, object] = {"tenant": tenant, "entrypoint": "/usr/bin/true", "bundles": [{"cpu": cpu}]}
    return client.submit(spec | extra).id


def test_admission_control_keeps_a_cluster_under_its_job_limit(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    jobs = [submit(client, cpu=0.5) for _ in range(5)]
    report = scheduler.cycle()
    assert len(report.admitted) == 2  # room for 8 such jobs, but max_jobs_per_pool = 2
    scheduler.cycle()
    assert [client.job(j).state for j in jobs].count("admitted") == 2
    for sid in list(fake.runs):
        fake.set(sid, RunStatus.SUCCEEDED, exit_code=0)
    scheduler.cycle()  # reconcile ends two, then two more are admitted
    states = Counter(client.job(j).state for j in jobs)
    assert states == {"succeeded": 2, "admitted": 2, "queued": 1}
    done = client.job(jobs[0])
    assert done.exit_code == 0 and done.logs_tail.startswith("log of")


def test_a_queue_keeps_its_order_when_a_pool_is_out_of_slots(client: SchedulerControl) -> None:
    """The policy places j0 and j1 on one pool and the big j2 on the other; that pool takes one job a
    cycle, so j1 waits, and j2, younger and of the same queue, waits with it rather than start first
    (the killed-leader test on real Ray saw a tenant's jobs start out of order under load)."""
    for name, address in (("jinan", "http://127.0.0.1:1"), ("qingdao", "http://127.0.0.2:1")):
        client.store.put_pool(ClusterPoolSpec(name=name, city=name, address=address, max_jobs=1))
    fakes = {"jinan": FakeBackend(), "qingdao": FakeBackend()}
    scheduler = Scheduler(client.store, client.settings, backends=fakes)
    j0, j1, j2 = submit(client, cpu=0.5), submit(client, cpu=0.5), submit(client, cpu=3.9)
    scheduler.cycle()
    assert [client.job(j).state for j in (j0, j1, j2)] == ["admitted", "queued", "queued"]
    other = submit(client, tenant="b", cpu=0.5)  # another queue is not held back by a's
    scheduler.cycle()
    assert client.job(other).state == "admitted"


def test_node_group_pools_of_one_cluster_share_its_job_limit(client: SchedulerControl) -> None:
    """Two pools on node groups of the jinan cluster (same address): 2 jobs in flight across all three."""
    groups = {"jinan-a": "group_a", "jinan-b": "group_b"}
    for name, resource in groups.items():
        client.store.put_pool(
            ClusterPoolSpec(
                name=name, city="jinan", address="http://127.0.0.1:1/", node_group={"resource": resource}
            )
        )
    fakes = {name: FakeBackend() for name in ["jinan", *groups]}
    scheduler = Scheduler(client.store, client.settings, backends=fakes)
    jobs = [submit(client, cpu=0.5) for _ in range(6)]
    for _ in range(3):
        scheduler.cycle()
    assert Counter(client.job(j).state for j in jobs) == {"admitted": 2, "queued": 4}
    # Another cluster is not held back by this one.
    client.store.put_pool(ClusterPoolSpec(name="qingdao", city="qingdao", address="http://127.0.0.2:1"))
    fakes["qingdao"] = FakeBackend()
    scheduler = Scheduler(client.store, client.settings, backends=fakes)
    scheduler.cycle()
    assert Counter(client.job(j).state for j in jobs) == {"admitted": 4, "queued": 2}
    assert sum(len(f.runs) for f in fakes.values()) == 4


def test_a_submission_lost_in_flight_is_sent_again_once(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    job = submit(client)
    fake.fail_next_submit = True
    scheduler.cycle()
    row = client.job(job)
    assert row.state == "admitted" and row.submission_id not in fake.runs
    # A new scheduler (the old one crashed) resumes the half-done admission under the same id.
    Scheduler(client.store, client.settings, backends={"jinan": fake}).cycle()
    scheduler.cycle()
    assert fake.submissions == {row.submission_id: 1}
    assert [e.kind for e in client.store.events(job)] == ["submitted", "admitted", "submitted"]


def test_failed_attempts_are_retried_then_fail_with_the_reason(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    job = submit(client, retries=1)
    scheduler.cycle()
    first = client.job(job).submission_id
    assert first is not None
    fake.set(first, RunStatus.FAILED, "exit 3", exit_code=3)
    scheduler.cycle()  # requeued and admitted again as attempt 2
    second = client.job(job)
    assert second.attempt == 2 and second.failures == 1 and second.submission_id != first
    assert second.submission_id is not None
    fake.set(second.submission_id, RunStatus.FAILED, "exit 3 again", exit_code=3)
    scheduler.cycle()
    final = client.job(job)
    assert (final.state, final.exit_code, final.message) == ("failed", 3, "exit 3 again")
    assert "retried" in [e.kind for e in client.store.events(job)]


def test_preemption_reclaims_borrowed_capacity_and_requeues_the_victim(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    scheduler.settings.max_jobs_per_pool = 10
    borrowers = [submit(client, "a", cpu=2.0) for _ in range(2)]  # a takes all 4 CPUs, 2 borrowed
    scheduler.cycle()
    for job in borrowers:
        sid = client.job(job).submission_id
        assert sid is not None
        fake.set(sid, RunStatus.RUNNING)
    scheduler.cycle()
    claimant = submit(client, "b", cpu=2.0)  # within b's guarantee: a's loan is reclaimed
    report = scheduler.cycle()
    assert len(report.preempted) == 1 and report.admitted == [claimant]
    victim = client.job(report.preempted[0])
    assert victim.state == "stopping" and victim.requeue
    scheduler.cycle()  # Ray has stopped it: back to its queue, not lost
    victim = client.job(victim.id)
    assert victim.state == "queued" and victim.pool is None
    kinds = [e.kind for e in client.store.events(victim.id)]
    assert kinds[-2:] == ["preempted", "requeued"]


def test_cancel_stops_the_job_on_its_pool(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    job = submit(client)
    scheduler.cycle()
    sid = client.job(job).submission_id
    assert sid is not None
    fake.set(sid, RunStatus.RUNNING)
    scheduler.cycle()
    assert client.cancel(job).cancel_requested
    scheduler.cycle()
    assert fake.runs[sid].status is RunStatus.STOPPED
    scheduler.cycle()
    assert client.job(job).state == "cancelled"


def test_cordoned_pools_take_no_new_work_and_metrics_show_the_queue(
    client: SchedulerControl, scheduler: Scheduler
) -> None:
    client.store.set_cordon("jinan", cordoned=True)
    job = submit(client)
    scheduler.cycle()
    assert client.job(job).state == "queued"
    text = generate_latest(scheduler.metrics.registry).decode()
    assert 'brain_scheduler_queue_depth{queue="a"} 1.0' in text
    assert 'brain_scheduler_pool_healthy{pool="jinan"} 1.0' in text
    client.store.set_cordon("jinan", cordoned=False)
    scheduler.cycle()
    assert client.job(job).state == "admitted"


def test_the_service_command_line_registers_its_pools(tmp_path: Path) -> None:
    from scheduler.service import _register, main

    with pytest.raises(SystemExit) as exit_info:
        main(["--home", str(tmp_path), "--pool", "local:8265"])
    assert exit_info.value.code == 2  # argparse's usage error: NAME=URL expected
    settings = SchedulerSettings(home=tmp_path)
    store = SchedulerStore.open(settings)
    _register(store, settings, "local", "http://127.0.0.1:8265", None, None)
    _register(store, settings, "local", "http://127.0.0.1:9265", None, None)  # re-pointed, not duplicated
    pools = store.pools()
    assert [(p.name, p.pool_spec.city, p.pool_spec.address) for p in pools] == [
        ("local", "jinan", "http://127.0.0.1:9265")
    ]
    store.close()


def test_job_views_show_the_kind_and_its_parameters_as_written(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    from scheduler.views import job_json

    section = {
        "component": "process_quality",
        "input": {"path": "/d/in.parquet"},
        "output": "/d/out",
        "columns": {"process_parameters": ["t", "p"]},
    }
    spec = {"tenant": "a", "kind": "batch-inference", "batch-inference": section}
    view = job_json(client.submit(spec))
    assert view["kind"] == "batch-inference"
    assert view["spec"]["batch-inference"]["columns"] == section["columns"]
    assert job_json(client.job(submit(client)))["kind"] == "entrypoint"
    scheduler.cycle()
    assert "-m jobs.batch_inference" in fake.launches[view["id"]].entrypoint


def test_an_attempt_the_cluster_forgot_follows_its_retry_policy_never_silently(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    once = submit(client, retries=0)
    again = submit(client, retries=1)
    scheduler.cycle()
    first = {job: client.job(job).submission_id for job in (once, again)}
    assert all(client.job(job).submitted_at is not None for job in first)
    fake.runs.clear()  # the Ray cluster restarted: it forgot both attempts, which may have run
    report = scheduler.cycle()
    lost = client.job(once)
    assert lost.state == "failed" and lost.message.startswith("marked lost: pool jinan no longer knows")
    assert [e.kind for e in client.store.events(once)][-1] == "lost"
    retried = client.job(again)
    assert retried.state == "admitted" and retried.attempt == 2 and retried.failures == 1
    assert report.requeued == [again]
    detail = next(e.detail for e in client.store.events(again) if e.kind == "unknown-retried")
    assert "outcome unknown, retried (retry 1 of 1)" in detail
    # The forgotten attempts were never submitted again; only the retry allowed by the policy was.
    assert fake.submissions[first[once] or ""] == 1 and fake.submissions[first[again] or ""] == 1
    assert len(fake.submissions) == 3


def test_two_databases_on_one_cluster_never_share_a_submission_id(tmp_path: Path, fake: FakeBackend) -> None:
    """A fresh database (or a restored one) on the cluster an earlier database used: the same idempotency
    key gives the same job id, but the earlier run's finished attempt is not taken for this one's."""
    first, second = open_client(tmp_path / "first"), open_client(tmp_path / "second")
    try:
        assert first.store.namespace != second.store.namespace
        job = submit(first, idempotency_key="nightly-2026-11-30")
        Scheduler(first.store, first.settings, backends={"jinan": fake}).cycle()
        earlier = first.job(job).submission_id or ""
        fake.set(earlier, RunStatus.SUCCEEDED, exit_code=0)

        assert submit(second, idempotency_key="nightly-2026-11-30") == job
        scheduler = Scheduler(second.store, second.settings, backends={"jinan": fake})
        scheduler.cycle()
        scheduler.cycle()
        row = second.job(job)
        assert row.state == "admitted" and row.submission_id != earlier  # submitted, not "done" already
        assert fake.submissions == {earlier: 1, row.submission_id: 1}
        # A new namespace (what `brain restore` draws): the same attempt gets another submission id.
        before = second.store.namespace
        assert second.store.draw_namespace() != before
        assert SchedulerStore(second.store.engine).namespace == second.store.namespace  # stored, not cached
    finally:
        first.close()
        second.close()


def test_a_job_whose_pool_row_vanished_is_marked_lost_not_requeued(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    from scheduler.store import PoolRow

    job = submit(client)
    scheduler.cycle()
    sid = client.job(job).submission_id or ""
    fake.set(sid, RunStatus.RUNNING)
    with client.store.session() as s:  # the row deleted by hand: nothing can stop the attempt now
        s.delete(s.get(PoolRow, "jinan"))
    scheduler.cycle()
    row = client.job(job)
    assert row.state == "failed" and "no longer registered" in row.message
    assert fake.submissions == {sid: 1}


def test_a_requeue_drain_stops_the_attempt_before_requeueing_it(
    client: SchedulerControl, scheduler: Scheduler, fake: FakeBackend
) -> None:
    job = submit(client)
    scheduler.cycle()
    sid = client.job(job).submission_id or ""
    fake.set(sid, RunStatus.RUNNING)
    scheduler.cycle()
    client.store.set_cordon("jinan", cordoned=True, drain="requeue")
    fake.stop = lambda submission_id: None  # type: ignore[method-assign]  # Ray is slow to stop it
    scheduler.cycle()
    scheduler.cycle()
    assert client.job(job).state == "stopping"  # still running on Ray: not requeued yet
    fake.set(sid, RunStatus.STOPPED, "stopped")
    scheduler.cycle()
    row = client.job(job)
    assert row.state == "queued" and row.pool is None  # the pool is cordoned: it waits for another
    assert [e.kind for e in client.store.events(job)][-2:] == ["drained", "requeued"]


def test_one_scheduler_leads_the_other_waits_and_takes_over(client: SchedulerControl) -> None:
    settings = client.settings.model_copy(update={"leader_lease_s": 10.0, "cycle_interval_s": 0.05})
    fakes = {"a": FakeBackend(), "b": FakeBackend()}
    a, b = (Scheduler(client.store, settings, backends={"jinan": fakes[n]}) for n in ("a", "b"))
    assert a.lead() and not b.lead() and a.lead()  # a renews; b is refused while a's lease runs
    stop_a, stop_b = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=a.run, args=(stop_a,)),
        threading.Thread(target=b.run, args=(stop_b,)),
    ]
    for thread in threads:
        thread.start()
    try:
        jobs = [submit(client, cpu=0.5) for _ in range(2)]
        # Submitted, not only admitted: the state changes before the backend call, so polling on
        # "admitted" alone races the leader's submit.
        poll_until(lambda: all(client.job(j).submitted_at is not None for j in jobs))
        assert len(fakes["a"].submissions) == 2 and not fakes["b"].submissions  # only the leader placed
        stop_a.set()  # a clean stop releases the lease: b takes over at once
        threads[0].join(timeout=10)
        more = submit(client, "b", cpu=0.5)
        poll_until(lambda: client.job(more).submitted_at is not None)
        assert list(fakes["b"].launches) == [more] and b.leading
    finally:
        stop_a.set()
        stop_b.set()
        for thread in threads:
            thread.join(timeout=10)


def test_a_dead_leaders_lease_expires_and_the_follower_takes_over(client: SchedulerControl) -> None:
    settings = client.settings.model_copy(update={"leader_lease_s": 1.0})
    a, b = (Scheduler(client.store, settings) for _ in range(2))
    assert a.lead() and not b.lead()
    # a dies without releasing anything: b leads once the lease ran out, and a, back, must wait
    poll_until(b.lead)
    assert not a.lead()
    lease = client.store.lease("scheduler")
    assert lease is not None and lease.holder == b.holder


def test_a_locked_store_is_logged_once_per_episode_and_the_loop_resumes(
    client: SchedulerControl, fake: FakeBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    from sqlalchemy import event

    from scheduler.db import open_engine

    url = client.settings.database_url
    engine = open_engine(url)
    # The production busy timeout is 30 s; a short one keeps this test quick, the behaviour is the same.
    event.listen(engine, "connect", lambda conn, _r: conn.execute("PRAGMA busy_timeout=50"))
    store = SchedulerStore(engine)
    settings = client.settings.model_copy(update={"cycle_interval_s": 0.02})
    scheduler = Scheduler(store, settings, backends={"jinan": fake})
    job = submit(client)
    locker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,))
    caplog.set_level(logging.INFO, logger="scheduler.loop")
    thread.start()
    try:
        poll_until(lambda: scheduler.metrics.cycle_errors._value.get() >= 5)
        assert client.job(job).state == "queued" and thread.is_alive()
        locker.execute("COMMIT")
        poll_until(lambda: client.job(job).state == "admitted")
    finally:
        stop.set()
        thread.join(timeout=10)
        locker.close()
        store.close()
    failed = scheduler.metrics.cycle_errors._value.get()
    messages = [r.getMessage() for r in caplog.records if r.name == "scheduler.loop"]
    assert sum("scheduling cycle failed" in m for m in messages) == 1
    assert [m for m in messages if "work again" in m] == [
        next(m for m in messages if m.startswith(f"scheduling cycles work again after {failed:.0f} failed"))
    ]


def poll_until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_jobs_on_a_pool_unreachable_too_long_follow_their_retry_policy_and_the_pool_recovers(
    client: SchedulerControl, fake: FakeBackend
) -> None:
    client.store.put_pool(ClusterPoolSpec(name="qingdao", city="qingdao", address="http://127.0.0.2:1"))
    other = FakeBackend()
    settings = client.settings.model_copy(update={"pool_lost_after_s": 0.2, "max_jobs_per_pool": 4})
    scheduler = Scheduler(client.store, settings, backends={"jinan": fake, "qingdao": other})
    other.down = True  # everything lands on jinan first
    again, once = submit(client, retries=1), submit(client, retries=0)
    scheduler.cycle()
    sids = {job: client.job(job).submission_id or "" for job in (again, once)}
    for sid in sids.values():
        fake.set(sid, RunStatus.RUNNING)
    scheduler.cycle()
    other.down, fake.down = False, True  # jinan's head dies
    waiting = submit(client)
    scheduler.cycle()
    assert client.store.pool("jinan").health == "unhealthy"
    assert client.job(waiting).pool == "qingdao"  # queued work avoids the dead pool at once
    assert client.job(again).state == "running"  # not given up before pool_lost_after_s
    time.sleep(0.25)
    scheduler.cycle()
    moved, lost = client.job(again), client.job(once)
    assert (moved.state, moved.pool, moved.attempt) == ("admitted", "qingdao", 2)
    detail = [e.detail for e in client.store.events(again) if e.kind == "unknown-retried"]
    assert (
        detail
        and detail[0].startswith("pool jinan unreachable for")
        and "outcome unknown, retried" in detail[0]
    )
    assert lost.state == "failed" and lost.message.startswith("marked lost: pool jinan unreachable")
    fake.down = False  # the cluster is back (cut off, not dead): the attempts given up are stopped
    scheduler.cycle()
    assert client.store.pool("jinan").health == "healthy"
    assert {fake.runs[sid].status for sid in sids.values()} == {RunStatus.STOPPED}
    assert fake.submissions == Counter(sids.values())  # nothing was submitted there again


def test_a_lease_held_by_a_dead_process_of_this_host_is_taken_over_at_once(client: SchedulerControl) -> None:
    import subprocess
    import sys

    from scheduler import loop

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = f"{loop._HOST}:{gone.pid}:abcdef"
    assert client.store.hold_lease(loop.LEASE, dead, 3600) is None  # it held an hour-long lease, then died
    follower = Scheduler(client.store, client.settings)
    assert follower.lead()  # not an hour later
    # A holder elsewhere (another host, or another PID namespace) is waited for: its PID means nothing here.
    client.store.release_lease(loop.LEASE, follower.holder)
    assert client.store.hold_lease(loop.LEASE, f"elsewhere/1:{gone.pid}:abcdef", 3600) is None
    assert not follower.lead()
