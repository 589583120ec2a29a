"""How the scheduler's records are shown: JSON for the CLI and the REST API, and the policy's view of a pool.

Pure functions of stored rows; the REST API, the CLI and the loop all read through them so that a job
or a pool looks the same everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from scheduler.model import Node, Pool
from scheduler.store import JobEventRow, JobRow, PoolRow


def pool_model(row: PoolRow) -> tuple[Pool, list[Node]]:
    """The policy's view of a registered pool from its stored spec and last-seen capacity."""
    spec = row.pool_spec
    pool = Pool(
        name=spec.name,
        city=spec.city,
        kind=spec.kind,
        zone=spec.zone,
        price_per_gpu_hour=spec.price_per_gpu_hour,
        carbon_g_per_kwh=spec.carbon_g_per_kwh,
        cordoned=row.cordoned or row.draining,
    )
    if spec.nodes:  # declared at its largest size (an autoscaling cluster): plan against that
        return pool, spec.to_model()[1]
    nodes = [
        Node(
            id=f"{spec.name}/{n['id']}",
            pool=spec.name,
            cpu_milli=int(n["cpu_milli"]),
            memory_mib=int(n["memory_mib"]),
            gpu_count=int(n.get("gpu_count") or 0),
            gpu_type=n.get("gpu_type"),
        )
        for n in row.node_list
    ]
    return pool, nodes


def pool_json(row: PoolRow, in_flight: int | None = None) -> dict[str, Any]:
    """A pool as the CLI and the REST API show it: the token masked, live health and capacity."""
    spec = row.pool_spec.model_dump(exclude={"auth_token", "nodes"})
    spec["auth_token"] = "***" if row.pool_spec.auth_token else None
    data = {
        **spec,
        "cordoned": row.cordoned,
        "drain": row.drain or None,
        "health": row.health,
        "health_message": row.health_message,
        "nodes": row.node_list,
        "usage": json.loads(row.usage or "{}"),
        "seen_at": row.seen_at,
    }
    if in_flight is not None:
        data["jobs_in_flight"] = in_flight
    return data


def job_json(job: JobRow) -> dict[str, Any]:
    """A job as the CLI and the REST API show it; its kind's parameters are in the spec."""
    spec = json.loads(job.spec)
    return {
        "id": job.id,
        "kind": spec.get("kind", "entrypoint"),
        "tenant": job.tenant,
        "queue": job.queue,
        "state": job.state,
        "pool": job.pool,
        "priority": job.priority,
        "attempt": job.attempt,
        "failures": job.failures,
        "submission_id": job.submission_id,
        "idempotency_key": job.idempotency_key,
        "cancel_requested": job.cancel_requested,
        "exit_code": job.exit_code,
        "message": job.message,
        "submit_time": job.submit_time,
        "admitted_at": job.admitted_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "spec": spec,
    }


def event_json(event: JobEventRow) -> dict[str, Any]:
    return {"at": event.at, "kind": event.kind, "state": event.state, "detail": event.detail}
