"""The scheduler's store on SQLite (WAL) and PostgreSQL: migrations, idempotent submission, events,
compare-and-set transitions, pools and queues."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text

from scheduler.db import open_engine
from scheduler.errors import IdempotencyConflict, JobNotFound, QueueTreeInvalid, SpecInvalid, UnknownPool
from scheduler.model import JobState, Quota
from scheduler.spec import ClusterPoolSpec, JobRequest, QueueSpec
from scheduler.store import VERSION_TABLE, SchedulerStore, downgrade, migrate, submission_id


def request(job_id: str = "job-1", **fields: object) -> JobRequest:
    values: dict[str, object] = {"id": job_id, "tenant": "jinan-steel", "entrypoint": "/usr/bin/true"}
    values.update(fields)
    return JobRequest.model_validate(values)


def test_migrations_use_their_own_version_table(db_url: str) -> None:
    engine = open_engine(db_url)
    migrate(engine)
    migrate(engine)  # idempotent
    tables = set(inspect(engine).get_table_names())
    assert {
        "sched_pools",
        "sched_queues",
        "sched_jobs",
        "sched_job_events",
        "sched_leases",
        "sched_database",
        VERSION_TABLE,
    } <= tables
    assert "alembic_version" not in tables  # the platform's own table stays free for its migrations
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == "0004"
    downgrade(engine, "base")
    assert not {"sched_jobs", "sched_pools"} & set(inspect(engine).get_table_names())
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    store = SchedulerStore.open(url=f"sqlite:///{tmp_path}/s.db")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    store.close()


def test_submission_is_idempotent(store: SchedulerStore) -> None:
    first = store.submit(request(idempotency_key="k1"), "jinan-steel")
    again = store.submit(request(idempotency_key="k1"), "jinan-steel")
    assert first.created and not again.created
    assert again.job.id == first.job.id
    assert len(store.jobs()) == 1
    # The same job id resent without a key is the same job too (a retried submit).
    assert store.submit(request("job-2"), "jinan-steel").created
    assert not store.submit(request("job-2"), "jinan-steel").created
    with pytest.raises(IdempotencyConflict):
        store.submit(request(idempotency_key="k1", entrypoint="/usr/bin/false"), "jinan-steel")


def test_transitions_are_compare_and_set_and_recorded(store: SchedulerStore) -> None:
    store.submit(request(), "jinan-steel")
    assert store.transition(
        "job-1", [JobState.QUEUED], JobState.ADMITTED, "admitted", "to jinan", pool="jinan"
    )
    # A second writer that still believes the job is queued loses.
    assert not store.transition("job-1", [JobState.QUEUED], JobState.ADMITTED, "admitted", "again")
    assert store.transition("job-1", [JobState.ADMITTED], JobState.RUNNING, "running", "")
    job = store.job("job-1")
    assert (job.state, job.pool) == ("running", "jinan")
    kinds = [(e.kind, e.state) for e in store.events("job-1")]
    assert kinds == [("submitted", "queued"), ("admitted", "admitted"), ("running", "running")]
    with pytest.raises(JobNotFound):
        store.job("nope")


def test_cancel_of_a_queued_job_is_immediate_and_of_a_running_one_is_requested(store: SchedulerStore) -> None:
    store.submit(request("a"), "jinan-steel")
    store.submit(request("b"), "jinan-steel")
    assert store.request_cancel("a").state == "cancelled"
    store.transition("b", [JobState.QUEUED], JobState.RUNNING, "running", "")
    b = store.request_cancel("b")
    assert b.state == "running" and b.cancel_requested
    assert store.events("b")[-1].kind == "cancel-requested"


def test_pools_cordon_and_drain(store: SchedulerStore) -> None:
    store.put_pool(ClusterPoolSpec(name="jinan", city="济南", address="http://127.0.0.1:1"))
    assert store.pool("jinan").pool_spec.city == "jinan"
    assert store.set_cordon("jinan", cordoned=True).cordoned
    drained = store.set_cordon("jinan", cordoned=True, drain="requeue")
    assert drained.draining and drained.drain == "requeue"
    opened = store.set_cordon("jinan", cordoned=False)
    assert not opened.cordoned and not opened.draining
    with pytest.raises(UnknownPool):
        store.set_cordon("atlantis", cordoned=True)
    with pytest.raises(SpecInvalid):
        store.set_cordon("jinan", cordoned=True, drain="sometimes")
    store.record_pool_health("jinan", "healthy", "", [{"id": "n1", "cpu_milli": 2000}], {"CPU": [0.5, 2.0]})
    assert store.pool("jinan").node_list == [{"cpu_milli": 2000, "id": "n1"}]


def test_queues_must_form_a_tree(store: SchedulerStore) -> None:
    store.put_queues([QueueSpec(name="shandong"), QueueSpec(name="a", parent="shandong", tenant="a")])
    tree = store.queue_tree()
    assert tree is not None and tree.tenant_queue == {"a": "a"}
    with pytest.raises(QueueTreeInvalid):
        store.put_queues([QueueSpec(name="b", parent="nowhere", tenant="b")])
    store.put_queues([QueueSpec(name="root2"), QueueSpec(name="c", parent="root2", tenant="c")], replace=True)
    tree = store.queue_tree()
    assert tree is not None and set(tree.queues) == {"root2", "c"}


def test_quotas_stored_before_partial_quotas_leave_their_zeros_unnamed(db_url: str) -> None:
    # Before revision 0002 every stored quota wrote all three resources, 0 for those left out.
    engine = open_engine(db_url)
    migrate(engine, "0001")
    old = {
        "name": "a",
        "parent": "shandong",
        "tenant": "a",
        "guaranteed": {"cpu": 1.0, "memory_mib": 0, "gpu": 0.0},
        "borrowing_limit": {"cpu": 0.0, "memory_mib": 0, "gpu": 0.0},
        "lending_limit": None,
        "weight": 1.0,
    }
    with engine.begin() as conn:
        for name, spec in (("shandong", {"name": "shandong"}), ("a", old)):
            conn.execute(
                text("INSERT INTO sched_queues (name, spec, updated_at) VALUES (:n, :s, 0)"),
                {"n": name, "s": json.dumps(spec)},
            )
    migrate(engine)
    store = SchedulerStore(engine)
    (queue,) = [q for q in store.queue_specs() if q.name == "a"]
    assert queue.guaranteed is not None and queue.borrowing_limit is not None
    # {cpu: 1} guarantees one CPU and says nothing of memory or GPUs ...
    assert queue.guaranteed.to_model() == Quota(cpu_milli=1000)
    # ... while a quota of nothing at all stays a quota of nothing (not an unlimited one).
    assert queue.borrowing_limit.to_model() == Quota(0, 0, 0)
    # A zero written since is a real zero, and later starts do not rewrite it.
    store.put_queues([QueueSpec.model_validate({**old, "guaranteed": {"cpu": 1, "memory_mib": 0}})])
    migrate(engine)
    (queue,) = [q for q in store.queue_specs() if q.name == "a"]
    assert queue.guaranteed is not None and queue.guaranteed.to_model() == Quota(1000, 0, None)
    downgrade(engine, "0001")  # the old code reads zeros where the new one has nothing named
    with engine.connect() as conn:
        stored = json.loads(conn.execute(text("SELECT spec FROM sched_queues WHERE name = 'a'")).scalar_one())
    assert stored["guaranteed"] == {"cpu": 1.0, "memory_mib": 0, "gpu": 0}
    store.close()


def test_each_database_draws_its_own_namespace_kept_across_upgrades_and_redrawn_on_demand(
    db_url: str, tmp_path: object
) -> None:
    """Migration 0004 gives an existing database (jobs admitted already) a namespace; a second database gets
    another; drawing a new one (`brain restore`) is stored, and submission ids carry it."""
    engine = open_engine(db_url)
    migrate(engine, "0003")
    before = SchedulerStore(engine)  # an attempt admitted before the namespace existed keeps its stored id
    before.put_queues([QueueSpec(name="shandong")])
    before.submit(request(), "shandong")
    assert before.transition("job-1", [JobState.QUEUED], JobState.ADMITTED, "admitted", "",
                             attempt=1, submission_id="brain-job-1-a1")  # fmt: skip
    migrate(engine)
    store = SchedulerStore(engine)
    namespace = store.namespace
    assert len(namespace) == 12 and SchedulerStore(engine).namespace == namespace
    assert store.job("job-1").submission_id == "brain-job-1-a1"
    other = SchedulerStore.open(url=f"sqlite:///{tmp_path}/other.db")
    try:
        assert other.namespace != namespace
    finally:
        other.close()
    drawn = store.draw_namespace()
    assert drawn != namespace and SchedulerStore(engine).namespace == drawn
    assert submission_id(drawn, "job-1", 2) == f"brain-{drawn}-job-1-a2"
    store.close()


def test_the_leader_lease_is_held_by_one_holder_at_a_time(store: SchedulerStore) -> None:
    assert store.hold_lease("scheduler", "a", 30) is None  # created
    assert store.hold_lease("scheduler", "b", 30) == "a"  # refused while a's lease runs
    first = store.lease("scheduler")
    assert first is not None
    assert store.hold_lease("scheduler", "a", 30) is None  # renewed, held since the same moment
    renewed = store.lease("scheduler")
    assert renewed is not None and renewed.acquired_at == first.acquired_at
    assert renewed.expires_at >= first.expires_at
    store.release_lease("scheduler", "b")  # not b's to release
    assert store.hold_lease("scheduler", "b", 30) == "a"
    store.release_lease("scheduler", "a")
    assert store.hold_lease("scheduler", "b", 30) is None  # released: b takes it at once
    taken = store.lease("scheduler")
    assert taken is not None and taken.holder == "b" and taken.acquired_at >= first.acquired_at
    assert store.hold_lease("scheduler", "a", 30) == "b"


def test_the_orm_matches_the_migrations(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from scheduler.store import Base

    engine = open_engine(db_url)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert [d for d in diff if "alembic_version" not in str(d)] == []
