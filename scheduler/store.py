"""The scheduler's persistent state: pools, queues, jobs and every job's events (SQLAlchemy 2.0).

SQLite in WAL mode is the embedded default (``$BRAIN_HOME/scheduler.db``); PostgreSQL serves
production. The schema belongs to the Alembic migrations in ``scheduler/migrations``, which keep their
own version table (`VERSION_TABLE`) so the scheduler can share a database with the platform's tables.

Writers race (the service, the CLI cancelling a job, a second scheduler after a crash), so every state
change is a compare-and-set on the job's current state, and it is recorded as an event in the same
transaction.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from scheduler.db import Migrations, new_metadata, open_engine
from scheduler.errors import IdempotencyConflict, JobNotFound, SpecInvalid, UnknownPool
from scheduler.model import FINAL, JobState, QueueTree
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, JobRequest, QueueSpec

VERSION_TABLE = "alembic_version_scheduler"


class Base(DeclarativeBase):
    metadata = new_metadata()


class PoolRow(Base):
    __tablename__ = "sched_pools"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)
    """The ClusterPoolSpec as JSON."""
    cordoned: Mapped[bool] = mapped_column(Boolean, default=False)
    drain: Mapped[str] = mapped_column(String(10), default="")
    """Empty (not draining), "finish" (running work ends on its own) or "requeue" (stopped, requeued)."""
    health: Mapped[str] = mapped_column(String(20), default="unknown")
    health_message: Mapped[str] = mapped_column(Text, default="")
    nodes: Mapped[str] = mapped_column(Text, default="[]")
    """Last capacity seen from Ray: a JSON list of nodes (id, cpu_milli, memory_mib, gpu_count, gpu_type)."""
    usage: Mapped[str] = mapped_column(Text, default="{}")
    """Last usage seen from Ray, JSON {resource: [used, total]}."""
    seen_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)

    @property
    def draining(self) -> bool:
        return bool(self.drain)

    @property
    def pool_spec(self) -> ClusterPoolSpec:
        return ClusterPoolSpec.model_validate_json(self.spec)

    @property
    def node_list(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = json.loads(self.nodes)
        return nodes


class QueueRow(Base):
    __tablename__ = "sched_queues"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)
    """The QueueSpec as JSON."""
    updated_at: Mapped[float] = mapped_column(Float)


class JobRow(Base):
    __tablename__ = "sched_jobs"
    __table_args__ = (UniqueConstraint("tenant", "idempotency_key", name="uq_sched_jobs_tenant_key"),)

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    queue: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    spec: Mapped[str] = mapped_column(Text)
    """The JobRequest as JSON."""
    state: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    submit_time: Mapped[float] = mapped_column(Float)
    pool: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    placements: Mapped[str] = mapped_column(Text, default="[]")
    """Where the policy put each bundle: JSON list of {node, gpus, gpu_milli} with Ray node ids."""
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Submissions to a pool so far; the Ray submission id of attempt n is `submission_id(job, n)`."""
    failures: Mapped[int] = mapped_column(Integer, default=0)
    submission_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    requeue: Mapped[bool] = mapped_column(Boolean, default=False)
    """Set with STOPPING: once Ray has stopped it, the job goes back to its queue instead of ending."""
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    ray_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    """Why the job ended as it did (Ray's message or ours)."""
    logs_tail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    admitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    """When the backend accepted the current attempt; None while it may never have reached the pool. A
    pool that no longer knows an attempt it accepted forgot it (its cluster restarted): its outcome is
    unknown, and the job's retry policy decides, where one never accepted is simply submitted again."""
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)

    @property
    def request(self) -> JobRequest:
        return JobRequest.model_validate_json(self.spec)

    @property
    def placement_list(self) -> list[dict[str, Any]]:
        placements: list[dict[str, Any]] = json.loads(self.placements)
        return placements


class LeaseRow(Base):
    """A lease one process holds until `expires_at` (Unix seconds) unless it renews it first."""

    __tablename__ = "sched_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[float] = mapped_column(Float)
    acquired_at: Mapped[float] = mapped_column(Float)


class JobEventRow(Base):
    __tablename__ = "sched_job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("sched_jobs.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(40))
    """submitted, admitted, running, preempted, requeued, retried, unknown-retried, lost, succeeded, failed,
    cancelled, …"""
    state: Mapped[str] = mapped_column(String(20))
    """The job's state after the event."""
    detail: Mapped[str] = mapped_column(Text, default="")


class DatabaseRow(Base):
    """One row: what identifies this database to the clusters it submits to."""

    __tablename__ = "sched_database"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    namespace: Mapped[str] = mapped_column(String(32))
    """Random, drawn when the database is made and again by `brain restore` (migration 0004 says why)."""
    drawn_at: Mapped[float] = mapped_column(Float)


def new_namespace() -> str:
    return uuid.uuid4().hex[:12]  # 48 random bits: two databases on one cluster do not draw the same


def submission_id(namespace: str, job_id: str, attempt: int) -> str:
    """The Ray submission id of one attempt: deterministic within a database, so a restarted scheduler
    finds what Ray has, and Ray's refusal of a second job with the same id makes resubmitting after a crash
    safe. ``namespace`` is the database's (`SchedulerStore.namespace`): another database's attempts of a
    job with the same id are never taken for this one's.
    """
    return f"brain-{namespace}-{job_id.replace('/', '_').replace(':', '_')}-a{attempt}"


def job_id_for_key(tenant: str, key: str) -> str:
    """The job id a tenant's idempotency key always maps to."""
    digest = hashlib.sha256(f"{tenant}\0{key}".encode()).hexdigest()[:20]
    return f"job-{digest}"


def new_job_id() -> str:
    return f"job-{uuid.uuid4().hex[:20]}"


# --- migrations -----------------------------------------------------------------------------------

MIGRATIONS = Migrations(Path(__file__).with_name("migrations"), VERSION_TABLE)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the scheduler's tables to ``revision`` (idempotent; run at every start)."""
    MIGRATIONS.upgrade(engine, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade to ``revision`` ("base": no scheduler tables at all)."""
    MIGRATIONS.downgrade(engine, revision)


# --- the store ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submitted:
    job: JobRow
    created: bool
    """False when the idempotency key (or job id) named a job that already existed."""


class SchedulerStore:
    """Typed access to the scheduler's tables; every method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._namespace: str | None = None

    @classmethod
    def open(cls, settings: SchedulerSettings | None = None, url: str | None = None) -> SchedulerStore:
        """Open (and migrate) the database of ``url``, or the one the settings name."""
        settings = settings or SchedulerSettings()
        engine = open_engine(url or settings.database_url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- this database ----------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """This database's part of every submission id (read once: only `brain restore` changes it, on a
        database no scheduler runs on)."""
        if self._namespace is None:
            with self.session() as s:
                row = s.get(DatabaseRow, 1)
                if row is None:  # migration 0004 writes it; a row deleted by hand is drawn again
                    row = DatabaseRow(id=1, namespace=new_namespace(), drawn_at=time.time())
                    s.add(row)
                self._namespace = row.namespace
        return self._namespace

    def draw_namespace(self) -> str:
        """Draw a new namespace (a restored backup: attempts from now on must not reuse the submission ids
        that the original database went on making after the backup)."""
        with self.session() as s:
            row = s.get(DatabaseRow, 1)
            if row is None:
                row = DatabaseRow(id=1)
                s.add(row)
            row.namespace = new_namespace()
            row.drawn_at = time.time()
            self._namespace = row.namespace
        return self._namespace

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # --- pools ------------------------------------------------------------------------------------

    def put_pool(self, spec: ClusterPoolSpec) -> PoolRow:
        """Register a pool, or update its spec (cordon, drain and health stay as they are)."""
        now = time.time()
        with self.session() as s:
            row = s.get(PoolRow, spec.name)
            if row is None:
                row = PoolRow(name=spec.name, spec=spec.model_dump_json(), created_at=now, updated_at=now)
                row.cordoned, row.drain, row.health, row.health_message = False, "", "unknown", ""
                row.nodes, row.usage = "[]", "{}"
                s.add(row)
            else:
                row.spec = spec.model_dump_json()
                row.updated_at = now
            return row

    def pool(self, name: str) -> PoolRow:
        with self.session() as s:
            row = s.get(PoolRow, name)
            if row is None:
                raise UnknownPool(name)
            return row

    def pools(self) -> list[PoolRow]:
        with self.session() as s:
            return list(s.scalars(select(PoolRow).order_by(PoolRow.name)))

    def set_cordon(self, name: str, cordoned: bool, drain: str | None = None) -> PoolRow:
        """Cordon (no new work) or uncordon a pool; `drain` "finish" or "requeue" also drains it.

        Uncordoning ends a drain too.
        """
        if drain not in (None, "", "finish", "requeue"):
            raise SpecInvalid(f"drain mode {drain!r}", 'use "finish" (let running work end) or "requeue"')
        with self.session() as s:
            row = s.get(PoolRow, name)
            if row is None:
                raise UnknownPool(name)
            row.cordoned = cordoned or bool(drain)
            row.drain = drain if drain is not None else (row.drain if cordoned else "")
            row.updated_at = time.time()
            return row

    def record_pool_health(
        self,
        name: str,
        health: str,
        message: str,
        nodes: list[dict[str, Any]] | None,
        usage: dict[str, Any] | None,
    ) -> None:
        """What Ray said about the pool; unchanged snapshots are not rewritten (no churn every cycle)."""
        with self.session() as s:
            row = s.get(PoolRow, name)
            if row is None:
                return
            row.seen_at = time.time()
            row.health, row.health_message = health, message
            if nodes is not None:
                text = json.dumps(nodes, sort_keys=True)
                if text != row.nodes:
                    row.nodes = text
            if usage is not None:
                row.usage = json.dumps(usage, sort_keys=True)

    # --- queues -----------------------------------------------------------------------------------

    def put_queues(self, specs: Sequence[QueueSpec], replace: bool = False) -> None:
        """Add or update queues; with `replace`, queues not named go away. The result must be a valid tree."""
        now = time.time()
        with self.session() as s:
            current = {row.name: row for row in s.scalars(select(QueueRow))}
            merged = {name: QueueSpec.model_validate_json(row.spec) for name, row in current.items()}
            if replace:
                merged = {}
            for spec in specs:
                merged[spec.name] = spec
            QueueTree([q.to_model() for q in merged.values()])  # raises QueueTreeInvalid
            for name, row in current.items():
                if name not in merged:
                    s.delete(row)
            for spec in specs:
                found = current.get(spec.name)
                if found is None:
                    s.add(QueueRow(name=spec.name, spec=spec.model_dump_json(), updated_at=now))
                else:
                    found.spec, found.updated_at = spec.model_dump_json(), now

    def queue_specs(self) -> list[QueueSpec]:
        with self.session() as s:
            rows = s.scalars(select(QueueRow).order_by(QueueRow.name))
            return [QueueSpec.model_validate_json(r.spec) for r in rows]

    def queue_tree(self) -> QueueTree | None:
        """The queue tree, or None while no queue is configured."""
        specs = self.queue_specs()
        if not specs:
            return None
        return QueueTree([q.to_model() for q in specs])

    # --- jobs -------------------------------------------------------------------------------------

    def submit(self, request: JobRequest, queue: str) -> Submitted:
        """Queue a job once: resending the same idempotency key (or job id) returns the first job."""
        now = time.time()
        submit_time = request.submit_time or now
        request = request.model_copy(update={"submit_time": submit_time, "queue": queue})
        row = JobRow(
            id=request.id,
            tenant=request.tenant,
            queue=queue,
            idempotency_key=request.idempotency_key,
            # by alias: the spec reads back as the user wrote it (batch-inference:, schema:)
            spec=request.model_dump_json(by_alias=True),
            state=JobState.QUEUED.value,
            priority=request.to_model(queue).priority,
            submit_time=submit_time,
            placements="[]",
            attempt=0,
            failures=0,
            requeue=False,
            stop_reason="",
            cancel_requested=False,
            message="",
            logs_tail="",
            created_at=now,
            updated_at=now,
        )
        try:
            with self.session() as s:
                s.add(row)
                s.flush()
                s.add(JobEventRow(job_id=row.id, at=now, kind="submitted", state=row.state, detail=""))
            return Submitted(row, created=True)
        except IntegrityError:
            pass
        existing = self._existing(request)
        if existing is None:  # pragma: no cover - the conflicting row vanished again
            raise SpecInvalid(f"job {request.id}", "it collided with a job that no longer exists; resend it")
        if _same_job(existing.request, request):
            return Submitted(existing, created=False)
        raise IdempotencyConflict(request.idempotency_key or request.id, existing.id)

    def _existing(self, request: JobRequest) -> JobRow | None:
        with self.session() as s:
            if request.idempotency_key is not None:
                found = s.scalars(
                    select(JobRow).where(
                        JobRow.tenant == request.tenant, JobRow.idempotency_key == request.idempotency_key
                    )
                ).first()
                if found is not None:
                    return found
            return s.get(JobRow, request.id)

    def job(self, job_id: str) -> JobRow:
        with self.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise JobNotFound(job_id)
            return row

    def jobs(
        self,
        states: Iterable[JobState] | None = None,
        tenant: str | None = None,
        pool: str | None = None,
        limit: int | None = None,
        queue: str | None = None,
        offset: int = 0,
    ) -> list[JobRow]:
        """Jobs oldest first, filtered; `offset` and `limit` page through them."""
        query = _job_filter(select(JobRow), states, tenant, pool, queue)
        query = query.order_by(JobRow.submit_time, JobRow.id).offset(offset or None)
        if limit is not None:
            query = query.limit(limit)
        with self.session() as s:
            return list(s.scalars(query))

    def count_jobs(
        self,
        states: Iterable[JobState] | None = None,
        tenant: str | None = None,
        pool: str | None = None,
        queue: str | None = None,
    ) -> int:
        """How many jobs `jobs` would list without a limit."""
        query = _job_filter(select(func.count()).select_from(JobRow), states, tenant, pool, queue)
        with self.session() as s:
            return int(s.execute(query).scalar_one())

    def count_by_state(self) -> dict[tuple[str, str], int]:
        """Number of jobs per (queue, state)."""
        with self.session() as s:
            rows = s.execute(
                select(JobRow.queue, JobRow.state, func.count()).group_by(JobRow.queue, JobRow.state)
            )
            return {(q, st): int(n) for q, st, n in rows}

    def events(self, job_id: str) -> list[JobEventRow]:
        with self.session() as s:
            query = select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
            return list(s.scalars(query))

    def transition(
        self,
        job_id: str,
        expect: Iterable[JobState],
        to: JobState,
        kind: str,
        detail: str = "",
        **fields: Any,
    ) -> bool:
        """Move a job from one of `expect` to `to`, set `fields`, and record the event — or do nothing
        and return False when someone else changed the job first."""
        now = time.time()
        values = {"state": to.value, "updated_at": now, **fields}
        with self.session() as s:
            result = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state.in_([e.value for e in expect]))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            s.add(JobEventRow(job_id=job_id, at=now, kind=kind, state=to.value, detail=detail))
            return True

    def note(self, job_id: str, kind: str, detail: str, **fields: Any) -> None:
        """Record an event (and set `fields`) without changing the job's state."""
        now = time.time()
        with self.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise JobNotFound(job_id)
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
            s.add(JobEventRow(job_id=job_id, at=now, kind=kind, state=row.state, detail=detail))

    def mark_submitted(self, job_id: str, submission: str) -> None:
        """The backend accepted `submission` (the job's current attempt): from now on, a pool that no
        longer knows it has forgotten it rather than never received it."""
        with self.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.submission_id == submission, JobRow.submitted_at.is_(None))
                .values(submitted_at=time.time())
                .execution_options(synchronize_session=False)
            )

    # --- the leader lease -------------------------------------------------------------------------

    def hold_lease(self, name: str, holder: str, ttl_s: float) -> str | None:
        """Take or renew the lease `name` for `ttl_s` seconds; None when `holder` holds it now, else the
        holder that does. A compare-and-set on one row, the same on SQLite and PostgreSQL: the row
        changes only when `holder` has it already or its holder let it expire."""
        now = time.time()
        with self.session() as s:
            renewed = s.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, (LeaseRow.holder == holder) | (LeaseRow.expires_at < now))
                .values(
                    holder=holder,
                    expires_at=now + ttl_s,
                    acquired_at=case((LeaseRow.holder == holder, LeaseRow.acquired_at), else_=now),
                )
                .execution_options(synchronize_session=False)
            )
            if renewed.rowcount == 1:  # type: ignore[attr-defined]
                return None
            row = s.get(LeaseRow, name)
            if row is not None:
                return row.holder
        try:
            with self.session() as s:
                s.add(LeaseRow(name=name, holder=holder, expires_at=now + ttl_s, acquired_at=now))
            return None
        except IntegrityError:  # another process created it first
            current = self.lease(name)
            return current.holder if current is not None else "another scheduler"

    def lease(self, name: str) -> LeaseRow | None:
        with self.session() as s:
            return s.get(LeaseRow, name)

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean stop), so a waiting process takes over without waiting for
        it to expire."""
        with self.session() as s:
            s.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.holder == holder)
                .values(expires_at=0.0)
                .execution_options(synchronize_session=False)
            )

    def request_cancel(self, job_id: str) -> JobRow:
        """Cancel a job: a queued one at once, one on a pool by the service (it stops it on Ray)."""
        job = self.job(job_id)
        if job.state in FINAL:
            return job
        done = self.transition(
            job_id,
            [JobState.QUEUED],
            JobState.CANCELLED,
            "cancelled",
            "cancelled while queued",
            finished_at=time.time(),
            message="cancelled by request",
        )
        if done:
            return self.job(job_id)
        self.note(job_id, "cancel-requested", "the scheduler stops it on its pool", cancel_requested=True)
        return self.job(job_id)


def _job_filter(
    query: Select[Any],
    states: Iterable[JobState] | None,
    tenant: str | None,
    pool: str | None,
    queue: str | None,
) -> Select[Any]:
    if states is not None:
        query = query.where(JobRow.state.in_([s.value for s in states]))
    if tenant is not None:
        query = query.where(JobRow.tenant == tenant)
    if pool is not None:
        query = query.where(JobRow.pool == pool)
    if queue is not None:
        query = query.where(JobRow.queue == queue)
    return query


def _same_job(a: JobRequest, b: JobRequest) -> bool:
    """Whether two requests ask for the same job (the submit time of a resend may differ)."""
    skip = {"submit_time", "id"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)
