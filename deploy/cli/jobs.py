"""`brain pools …` and `brain jobs …`: the compute scheduler from the command line (mounted by the main CLI).

Both act on the scheduler's database (BRAIN_HOME/scheduler.db, or BRAIN_SCHEDULER_DB_URL); the scheduler
service picks changes up in its next cycle. Errors are the scheduler's own (`.message`, `.status`): the CLI
root prints them as one line and exits 2.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from deploy.cli._common import JsonOpt, console, emit_json
from deploy.settings import scheduler_settings
from scheduler.control import SchedulerControl, load_topology, parse_job, read_yaml
from scheduler.errors import SpecInvalid
from scheduler.model import ON_POOL, JobState, PoolKind
from scheduler.views import event_json
from scheduler.views import job_json as _job_json
from scheduler.views import pool_json as _pool_json

pools_app = typer.Typer(
    help="Compute pools (算力池): Ray clusters of regional and industry centres.", no_args_is_help=True
)
jobs_app = typer.Typer(help="Jobs on the compute pools: submit, watch, cancel.", no_args_is_help=True)


def _client() -> SchedulerControl:
    return SchedulerControl.open(scheduler_settings())


def _when(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "-"


# --- pools ----------------------------------------------------------------------------------------


@pools_app.command("add")
def pools_add(
    name: str,
    address: Annotated[str, typer.Option(help="Ray dashboard / Jobs API URL, e.g. http://10.0.0.5:8265.")],
    city: Annotated[str, typer.Option(help="One of Shandong's 16 cities (jinan or 济南).")],
    kind: Annotated[
        PoolKind, typer.Option(help="regional (区域中心), industry (行业中心) or enterprise.")
    ] = (PoolKind.REGIONAL),
    zone: Annotated[str, typer.Option(help="Data-residency zone (域).")] = "shandong",
    price: Annotated[float, typer.Option(help="Yuan per GPU-hour.")] = 0.0,
    carbon: Annotated[float, typer.Option(help="Grid carbon intensity, gCO2/kWh.")] = 0.0,
    token_file: Annotated[str | None, typer.Option(help="File with the cluster's Ray auth token.")] = None,
    max_jobs: Annotated[int | None, typer.Option(help="Jobs in flight at most on this cluster.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a pool (or update one): a Ray cluster with where it is and what it costs."""
    spec = {
        "name": name,
        "address": address,
        "city": city,
        "kind": kind.value,
        "zone": zone,
        "price_per_gpu_hour": price,
        "carbon_g_per_kwh": carbon,
        "auth_token_file": token_file,
        "max_jobs": max_jobs,
    }
    row = _client().add_pool(spec)
    if as_json:
        emit_json(_pool_json(row))
    else:
        console.print(f"pool [bold]{row.name}[/] registered at {row.pool_spec.address}")


@pools_app.command("list")
def pools_list(as_json: JsonOpt = False) -> None:
    """Registered pools with their health and live capacity."""
    client = _client()
    rows = client.store.pools()
    flight = {r.name: len(client.store.jobs(states=_ON_POOL, pool=r.name)) for r in rows}
    if as_json:
        emit_json([_pool_json(r, flight[r.name]) for r in rows])
        return
    table = Table(
        "pool", "city", "zone", "kind", "address", "health", "nodes", "CPU used/total", "jobs", "state"
    )
    for r in rows:
        spec = r.pool_spec
        usage = json.loads(r.usage or "{}")
        cpu = usage.get("CPU")
        table.add_row(
            r.name,
            spec.city,
            spec.zone,
            spec.kind.value,
            spec.address or "-",
            r.health,
            str(len(r.node_list)),
            f"{cpu[0]:g}/{cpu[1]:g}" if cpu else "-",
            str(flight[r.name]),
            ("draining" if r.drain else "cordoned" if r.cordoned else "open"),
        )
    console.print(table)


@pools_app.command("show")
def pools_show(name: str, as_json: JsonOpt = False) -> None:
    """One pool: spec, health, nodes and usage as last seen from Ray, jobs on it."""
    client = _client()
    row = client.store.pool(name)
    jobs = client.store.jobs(states=_ON_POOL, pool=name)
    data = _pool_json(row, len(jobs))
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if key not in ("nodes", "usage"):
            console.print(f"[bold]{key}[/]: {value}", highlight=False)
    nodes = Table("node", "CPU", "memory MiB", "GPU", "GPU type", title="nodes")
    for node in row.node_list:
        nodes.add_row(
            str(node.get("id", "?"))[:16],
            f"{node.get('cpu_milli', 0) / 1000:g}",
            str(node.get("memory_mib", 0)),
            str(node.get("gpu_count", 0)),
            node.get("gpu_type") or "-",
        )
    console.print(nodes)


@pools_app.command("cordon")
def pools_cordon(
    name: str,
    undo: Annotated[
        bool, typer.Option("--undo", help="Uncordon: take new work again (ends a drain).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stop placing new work on a pool; work already there keeps running."""
    row = _client().store.set_cordon(name, cordoned=not undo)
    if as_json:
        emit_json(_pool_json(row))
    else:
        console.print(f"pool [bold]{name}[/] {'uncordoned' if undo else 'cordoned'}")


@pools_app.command("drain")
def pools_drain(
    name: str,
    requeue: Annotated[
        bool, typer.Option("--requeue", help="Stop running work now and requeue it (default: let it finish).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cordon a pool and empty it: running work finishes (or is stopped and requeued); nothing new lands."""
    row = _client().store.set_cordon(name, cordoned=True, drain="requeue" if requeue else "finish")
    if as_json:
        emit_json(_pool_json(row))
    else:
        how = "running work is requeued" if requeue else "running work finishes"
        console.print(f"pool [bold]{name}[/] draining: {how}, no new work lands")


@pools_app.command("apply")
def pools_apply(
    file: Annotated[Path, typer.Argument(help="YAML with `pools:` and `queues:` lists.")],
    replace_queues: Annotated[
        bool, typer.Option("--replace-queues", help="Remove queues the file does not name.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register the whole topology from a YAML file (pools and the queue tree)."""
    pools, queues = _client().apply(load_topology(file), replace_queues=replace_queues)
    if as_json:
        emit_json({"pools": pools, "queues": queues})
    else:
        console.print(f"applied {pools} pools and {queues} queues from {file}")


# --- jobs -----------------------------------------------------------------------------------------

_ON_POOL = list(ON_POOL)


@jobs_app.command("submit")
def jobs_submit(
    file: Annotated[
        Path | None, typer.Argument(help="Job spec (YAML or JSON); options below override its fields.")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant the job runs for.")] = None,
    entrypoint: Annotated[
        str | None, typer.Option(help="Command Ray runs; use an absolute interpreter path.")
    ] = None,
    cpu: Annotated[float | None, typer.Option(help="CPU cores of the (single) bundle.")] = None,
    memory_mib: Annotated[int | None, typer.Option(help="Memory of the bundle, MiB.")] = None,
    gpu: Annotated[float | None, typer.Option(help="GPUs of the bundle (a share of one, e.g. 0.5).")] = None,
    gpu_type: Annotated[str | None, typer.Option(help="Accelerator type, e.g. A10.")] = None,
    region: Annotated[
        list[str] | None, typer.Option(help="City or zone the job may run in; repeat for several.")
    ] = None,
    priority: Annotated[str | None, typer.Option(help="best-effort, normal, high or critical.")] = None,
    retries: Annotated[int | None, typer.Option(help="Run a failed job again this often.")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Resending the same key returns the same job.")
    ] = None,
    max_runtime: Annotated[float | None, typer.Option(help="Stop the job after this many seconds.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue a job; the scheduler runs it on a pool its quota and residency allow."""
    data: dict[str, Any] = {}
    if file is not None:
        loaded = read_yaml(file, "job file")
        if not isinstance(loaded, dict):
            raise SpecInvalid(f"job file {file}", "it must hold one mapping (tenant, entrypoint, bundles, …)")
        data.update(loaded)
    options = {
        "tenant": tenant,
        "entrypoint": entrypoint,
        "allowed_regions": region or None,
        "priority_class": priority,
        "retries": retries,
        "idempotency_key": idempotency_key,
        "max_runtime_s": max_runtime,
    }
    data.update({k: v for k, v in options.items() if v is not None})
    bundle = {"cpu": cpu, "memory_mib": memory_mib, "gpu": gpu, "gpu_type": gpu_type}
    if any(v is not None for v in bundle.values()):
        data["bundles"] = [{k: v for k, v in bundle.items() if v is not None}]
    job = _client().submit(parse_job(data))
    if as_json:
        emit_json(_job_json(job))
    else:
        console.print(f"job [bold]{job.id}[/] {job.state} in queue {job.queue}")


@jobs_app.command("list")
def jobs_list(
    state: Annotated[list[JobState] | None, typer.Option(help="Only jobs in this state; repeatable.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's jobs.")] = None,
    pool: Annotated[str | None, typer.Option(help="Only jobs on this pool.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many jobs.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Jobs, oldest first."""
    jobs = _client().store.jobs(states=state or None, tenant=tenant, pool=pool, limit=limit)
    if as_json:
        emit_json([_job_json(j) for j in jobs])
        return
    table = Table("job", "kind", "tenant", "state", "pool", "attempt", "submitted", "message")
    for j in jobs:
        kind = str(json.loads(j.spec).get("kind", "entrypoint"))
        table.add_row(
            j.id, kind, j.tenant, j.state, j.pool or "-", str(j.attempt), _when(j.submit_time), j.message[:60]
        )
    console.print(table)


@jobs_app.command("show")
def jobs_show(job_id: str, as_json: JsonOpt = False) -> None:
    """One job with its events (every state change)."""
    client = _client()
    job = client.job(job_id)
    events = client.store.events(job_id)
    data = _job_json(job) | {"events": [event_json(e) for e in events]}
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if key not in ("events", "spec"):
            console.print(f"[bold]{key}[/]: {value}", highlight=False)
    table = Table("at", "event", "state", "detail", title="events")
    for e in events:
        table.add_row(_when(e.at), e.kind, e.state, e.detail)
    console.print(table)


@jobs_app.command("logs")
def jobs_logs(
    job_id: str,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
) -> None:
    """The job's driver log (from Ray while it is there, else the tail kept when it ended)."""
    text = _client().logs(job_id, tail)
    typer.echo(text, nl=not text.endswith("\n"))


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, as_json: JsonOpt = False) -> None:
    """Cancel a job: a queued job at once, a running one is stopped on its pool."""
    job = _client().cancel(job_id)
    if as_json:
        emit_json(_job_json(job))
    else:
        console.print(f"job [bold]{job.id}[/]: {job.state}{' (stopping)' if job.cancel_requested else ''}")
