"""What the platform's fault scenarios share: a prepared BRAIN_HOME, a wrk load that counts answers per second,
the Serve replica processes, and the usage the centre metered."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.serving import mlp_card, mlp_module  # noqa: E402
from deploy.settings import PlatformSettings  # noqa: E402
from deploy.tenancy import Role, TenantSpec, TenantStore  # noqa: E402
from model_hub import HubSettings, Registry  # noqa: E402
from model_hub.convert import torch_to_onnx  # noqa: E402

COMPONENTS = ("mlp-a", "mlp-b", "mlp-c", "mlp-d")
TENANT = "bench"
ROW = [round(float(v), 4) for v in np.random.default_rng(0).standard_normal(32)]
BODY = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 32], "data": ROW}]})


def prepare(home: Path) -> str:
    """Four MLP components (one request = one row) and a tenant without practical limits; its key."""
    registry = Registry(HubSettings(home=home))
    for i, name in enumerate(COMPONENTS):
        card = mlp_card(name)
        registry.register_onnx(card, torch_to_onnx(mlp_module(i), card, {"x": np.ones((4, 32), np.float32)}))
    registry.close()
    store = TenantStore.open(PlatformSettings(home=home))
    store.create_tenant(
        TenantSpec(
            name=TENANT, display="bench", kind="enterprise", industries=["high-end-chemicals"], city="jinan",
            rate_per_second=1e7, burst=10_000_000, monthly_quota=2_000_000_000,
        ),
        actor="bench",
    )  # fmt: skip
    key = store.issue_key(TENANT, Role.consumer, "bench").secret
    store.engine.dispose()
    return key


@dataclass
class Load:
    """What a wrk run answered, per second (epoch seconds) and in all."""

    ok: dict[int, int] = field(default_factory=dict)
    bad: dict[int, int] = field(default_factory=dict)
    socket_errors: int = 0
    requests: int = 0

    @property
    def failed(self) -> int:
        return sum(self.bad.values()) + self.socket_errors

    @property
    def succeeded(self) -> int:
        return sum(self.ok.values())


def rotating_script(path: Path, key: str) -> Path:
    """A wrk script: POSTs rotating over COMPONENTS, each answer counted per second by status (200 or not)."""
    names = ",".join(json.dumps(n) for n in COMPONENTS)
    path.write_text(
        f"local names = {{{names}}}\nlocal i = 0\nlocal threads = {{}}\n"
        "function setup(thread) table.insert(threads, thread) end\n"
        "function init(args) ok = {}; bad = {} end\n"
        "request = function()\n  i = i % #names + 1\n"
        f"  return wrk.format('POST', '/v2/models/' .. names[i] .. '/infer', "
        f"{{['Authorization'] = 'Bearer {key}', ['Content-Type'] = 'application/json'}}, {json.dumps(BODY)})\n"
        "end\n"
        "function response(status, headers, body)\n  local t = os.time()\n"
        "  if status == 200 then ok[t] = (ok[t] or 0) + 1 else bad[t] = (bad[t] or 0) + 1 end\nend\n"
        "function done(summary, latency, requests)\n  for _, t in ipairs(threads) do\n"
        "    for s, n in pairs(t:get('ok')) do io.write('ok ' .. s .. ' ' .. n .. '\\n') end\n"
        "    for s, n in pairs(t:get('bad')) do io.write('bad ' .. s .. ' ' .. n .. '\\n') end\n"
        "  end\nend\n"
    )
    return path


def start_wrk(url: str, script: Path, connections: int, seconds: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def finish_wrk(proc: subprocess.Popen[str], seconds: int) -> Load:
    out, _ = proc.communicate(timeout=seconds + 60)
    load = Load()
    for kind, second, count in re.findall(r"^(ok|bad) (\d+) (\d+)$", out, re.M):
        bucket = load.ok if kind == "ok" else load.bad
        bucket[int(second)] = bucket.get(int(second), 0) + int(count)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    load.socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    total = re.search(r"(\d+) requests in", out)
    load.requests = int(total.group(1)) if total else 0
    return load


def replicas(home: Path, app: str = "capability-centre") -> list[int]:
    """Pids of the Serve replicas of ``app`` serving the platform at ``home`` (Ray names them
    ``ray::ServeReplica:APP:…``; they inherit the runner's BRAIN_HOME). Other platforms' replicas on a shared
    host — another run's, or one still dying — are not this scenario's to kill or measure."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if f"ServeReplica:{app}" not in line:
            continue
        with contextlib.suppress(psutil.Error):  # gone meanwhile, or not ours to read
            if process.environ().get("BRAIN_HOME") == str(home):
                found.append(process.pid)
    return sorted(found)


def metered_calls(home: Path) -> int:
    """Calls of the tenant that the centre's meters have written to the usage table."""
    from sqlalchemy import func, select

    from deploy.metering import UsageRow

    store = TenantStore.open(PlatformSettings(home=home))
    try:
        with store.engine.connect() as connection:
            query = select(func.coalesce(func.sum(UsageRow.calls), 0)).where(UsageRow.tenant == TENANT)
            return int(connection.execute(query).scalar_one())
    finally:
        store.engine.dispose()


def recovery_s(load: Load, killed_at: float, before: tuple[float, float], share: float = 0.9) -> float | None:
    """Seconds from the kill until throughput is back: the first whole second after it from which the mean
    of three seconds reaches ``share`` of the median second over ``before`` (epoch seconds) and no call
    fails any more; None if it never is. (Medians and 3-second means: other work on a shared 2-core host
    makes single seconds noisy.)"""
    base = sorted(load.ok.get(s, 0) for s in range(int(before[0]) + 1, int(before[1])))
    seconds = sorted(load.ok)
    if not base or not seconds:
        return None
    median = base[len(base) // 2]
    last = seconds[-1] - 1  # the last second is partial
    failing = [s for s in load.bad if s >= int(killed_at)]
    start = max([int(killed_at), *[s + 1 for s in failing]])
    for s in range(start, last - 1):
        if sum(load.ok.get(t, 0) for t in range(s, s + 3)) / 3 >= share * median:
            return max(0.0, s - killed_at)
    return None


def series(load: Load, start: float) -> list[list[int]]:
    """[second since ``start``, calls answered 200, calls failed] for each second of the load."""
    seconds = sorted(set(load.ok) | set(load.bad))
    return [[int(s - int(start)), load.ok.get(s, 0), load.bad.get(s, 0)] for s in seconds]
