"""Jobs submitted through the scheduler's REST API in bursts by many tenants: zero API errors, every job
accounted for (issue #12, "load held").

The scheduler runs as the platform runs it (``python -m scheduler.service --api-port``, the platform's
tenant-key check, its scheduling loop cycling over the queue as it fills); each tenant has its own
consumer key and sends bursts of concurrent ``POST /api/v1/jobs`` with an idempotency key, within the
API's default rate limit (20/s, burst 40). The pool declares its nodes and answers nothing, so every job
stays queued and is counted in the database afterwards. The per-tenant queue cap
(``BRAIN_MAX_QUEUED_JOBS_PER_TENANT``, 200 by default) is raised to the jobs each tenant sends.

    .venv/bin/python bench/scheduler_load.py [--jobs 10000] [--tenants 20] [--burst 20]

writes ``bench/results/scheduler_load.json``. No Ray: it needs no lock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.settings import PlatformSettings, scheduler_env  # noqa: E402
from deploy.tenancy import Role, TenantKind, TenantSpec, TenantStore  # noqa: E402
from scheduler.spec import ClusterPoolSpec, QueueSpec  # noqa: E402
from scheduler.store import SchedulerStore  # noqa: E402
from tests.conftest import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _job(tenant: str, n: int) -> dict[str, Any]:
    governance = {"input": {"path": "in/meters.csv"}, "output": f"out/{n}", "schema": {"power": "float"}}
    return {"tenant": tenant, "kind": "governance", "governance": governance, "bundles": [{"cpu": 1}]}


def _prepare(home: Path, tenants: list[str]) -> dict[str, str]:
    """Tenants, their consumer keys and their queues; a pool whose nodes are declared (no Ray behind it)."""
    store = TenantStore.open(PlatformSettings(home=home))
    keys: dict[str, str] = {}
    for name in tenants:
        store.create_tenant(
            TenantSpec(name=name, display=name, kind=TenantKind.enterprise, industries=["advanced-materials"],
                       city="jinan"),
            actor="bench",
        )  # fmt: skip
        keys[name] = store.issue_key(name, Role.consumer, "bench").secret
    store.engine.dispose()
    sched = SchedulerStore.open(url=f"sqlite:///{home / 'scheduler.db'}")
    sched.put_queues(
        [QueueSpec(name="shandong")] + [QueueSpec(name=t, parent="shandong", tenant=t) for t in tenants]
    )
    sched.put_pool(
        ClusterPoolSpec(
            name="jinan", city="jinan", address=f"http://127.0.0.1:{free_port()}",
            nodes=[{"count": 4, "cpu": 16, "memory_mib": 65536}],
        )
    )  # fmt: skip
    sched.close()
    return keys


async def _tenant(
    url: str, tenant: str, key: str, jobs: int, burst: int, every_s: float, out: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:

        async def one(n: int) -> None:
            started = time.perf_counter()
            try:
                response = await http.post(
                    "/api/v1/jobs", json=_job(tenant, n), headers={"Idempotency-Key": f"{tenant}-{n}"}
                )
            except httpx.HTTPError as exc:
                out["statuses"][type(exc).__name__] += 1
                return
            out["latency"].append(time.perf_counter() - started)
            out["statuses"][str(response.status_code)] += 1
            if response.status_code in (200, 201):
                out["ids"][f"{tenant}-{n}"] = response.json()["id"]
            elif len(out["errors"]) < 5:
                out["errors"].append(f"{response.status_code} {response.text[:200]}")

        for first in range(0, jobs, burst):
            tick = time.perf_counter()
            await asyncio.gather(*(one(n) for n in range(first, min(first + burst, jobs))))
            await asyncio.sleep(max(0.0, every_s - (time.perf_counter() - tick)))


async def _load(
    url: str, keys: dict[str, str], per_tenant: int, burst: int, every_s: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"statuses": Counter(), "latency": [], "ids": {}, "errors": []}
    await asyncio.gather(*(_tenant(url, t, k, per_tenant, burst, every_s, out) for t, k in keys.items()))
    return out


def run(jobs: int = 10_000, tenants: int = 20, burst: int = 20, every_s: float = 1.25) -> dict[str, Any]:
    """Submit `jobs` (split evenly over `tenants`) and count; the figures as a dict."""
    names = [f"tenant-{i:02d}" for i in range(tenants)]
    per_tenant = jobs // tenants
    with tempfile.TemporaryDirectory(prefix="brain-load-") as tmp:
        home = Path(tmp)
        keys = _prepare(home, names)
        port = free_port()
        env = {
            **os.environ, **scheduler_env(), "PYTHONPATH": str(ROOT), "BRAIN_HOME": str(home),
            "BRAIN_MAX_QUEUED_JOBS_PER_TENANT": str(per_tenant),
        }  # fmt: skip
        argv = [sys.executable, "-m", "scheduler.service", "--home", str(home), "--api-port", str(port)]
        with (home / "service.log").open("wb") as log:
            service = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if service.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((home / "service.log").read_text()[-2000:])
                time.sleep(0.2)
            started = time.perf_counter()
            out = asyncio.run(_load(url, keys, per_tenant, burst, every_s))
            elapsed = time.perf_counter() - started
        finally:
            service.terminate()
            service.wait(timeout=60)
        store = SchedulerStore.open(url=f"sqlite:///{home / 'scheduler.db'}")
        rows = store.jobs()
        store.close()
    by_key = {(row.tenant, row.idempotency_key): row.id for row in rows}
    expected = {(t, f"{t}-{n}") for t in names for n in range(per_tenant)}
    accounted = sum(1 for key in expected if key in by_key and by_key[key] == out["ids"].get(key[1]))
    latency = sorted(out["latency"])
    sent = per_tenant * tenants
    errors = sent - out["statuses"]["201"] - out["statuses"]["200"]
    return {
        "machine": platform.node(),
        "jobs": sent,
        "tenants": tenants,
        "burst": burst,
        "burst_every_s": every_s,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(sent / elapsed, 1),
        "statuses": dict(out["statuses"]),
        "api_errors": errors,
        "first_errors": out["errors"],
        "jobs_in_database": len(rows),
        "accounted": accounted,
        "latency_p50_s": round(latency[len(latency) // 2], 3) if latency else None,
        "latency_p99_s": round(latency[int(len(latency) * 0.99)], 3) if latency else None,
        "passed": errors == 0 and accounted == sent and len(rows) == sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    result = run(args.jobs, args.tenants, args.burst)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scheduler_load.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
