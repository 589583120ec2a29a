"""Local Ray clusters for tests and benchmarks, started and stopped by process group.

`start_cluster` runs `ray start --head --block` in its own session with its own ports (a block of
`PORTS_PER_CLUSTER` from `port_block`), temp folder and auth token; `RayCluster.stop` ends exactly that
session (SIGTERM to `ray start`, then SIGKILL to whatever is left of its process group) — never `ray stop`,
which would kill other people's clusters on the machine.

Whoever starts Ray on the shared 2-core machine must hold ``flock /tmp/brain-ray.lock``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

RAY = Path(sys.executable).with_name("ray")


def poll(
    condition: Callable[[], object], timeout_s: float = 60.0, every_s: float = 0.2, what: str = ""
) -> object:
    """Call `condition` until it returns something truthy; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what or condition}")
        time.sleep(every_s)


# --- two local Ray clusters -----------------------------------------------------------------------

PORTS_PER_CLUSTER = 40  # 10 single ports and a worker range of 30


def _ports_free(base: int, count: int) -> bool:
    for port in range(base, base + count):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


#: Where test clusters take their ports: above Ray's default worker ports (10002–19999, those of the
#: platform's own local Ray) and below the kernel's ephemeral range. A port inside that range can be
#: taken at any moment by some outgoing connection (it was: a restarted cluster's runtime-env agent
#: found its port held by a client socket, and the new cluster died 10 s after it had answered).
PORTS_FROM = 20000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_block(avoid: set[int]) -> int:
    end = _ephemeral_low() - PORTS_PER_CLUSTER
    for base in range(PORTS_FROM, end, 97):
        if base not in avoid and _ports_free(base, PORTS_PER_CLUSTER):
            return base
    raise RuntimeError(
        f"no block of {PORTS_PER_CLUSTER} free ports for a test Ray cluster between {PORTS_FROM} and {end} "
        f"(below the ephemeral ports, /proc/sys/net/ipv4/ip_local_port_range)"
    )


@dataclass
class RayCluster:
    name: str
    address: str
    token: str
    token_file: Path
    process: subprocess.Popen[bytes]
    temp_dir: Path
    gcs_address: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """`ray start --address … --block` of the worker nodes added by `add_node`."""

    def stop(self) -> None:
        """End the worker nodes, then the head, each with everything in its session (by process group)."""
        for process in [*self.workers, self.process]:
            _stop_session(process)


def _wait_until_free(ports: list[int], what: str, timeout_s: float = 60.0) -> None:
    """Poll until no live socket holds any of `ports` as its own: a listener, or a process's connection
    from that port (psutil; the kernel's table, not a bind attempt, so connections in TIME_WAIT and
    those of processes already gone do not count)."""

    def taken() -> list[str]:
        return sorted(
            f"{c.laddr.port} ({c.status}, pid {c.pid})"
            for c in psutil.net_connections(kind="inet")
            if c.laddr and c.laddr.port in ports and c.status != psutil.CONN_TIME_WAIT and c.pid is not None
        )

    deadline = time.monotonic() + timeout_s
    while (held := taken()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if held:
        raise RuntimeError(f"{what} are still taken after {timeout_s:.0f} s: {', '.join(held)}")


def _stop_session(process: subprocess.Popen[bytes]) -> None:
    pgid = process.pid  # start_new_session: the session and group ids are its pid
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.2)
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _node_flags(resources: dict[str, float] | None, labels: dict[str, str] | None) -> list[str]:
    flags = []
    if resources:
        flags.append(f"--resources={json.dumps(resources)}")
    if labels:
        flags.append("--labels=" + ",".join(f"{k}={v}" for k, v in labels.items()))
    return flags


def _env(token: str) -> dict[str, str]:
    env = {
        **os.environ,
        # Token auth on, with a token of this cluster only: the scheduler must send each pool its own.
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        # The job drivers' PATH: the entrypoints in these tests use absolute interpreter paths anyway.
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    env.pop("RAY_ADDRESS", None)
    return env


def _nodes(cluster: RayCluster) -> int:
    try:
        r = requests.get(
            f"{cluster.address}/api/v0/nodes?detail=true",
            headers={"Authorization": f"Bearer {cluster.token}"},
            timeout=2,
        )
        return int(r.json()["data"]["result"]["total"]) if r.ok else 0
    except (requests.RequestException, ValueError, KeyError):
        return 0


def add_node(
    cluster: RayCluster,
    name: str,
    base: int,
    cpus: int = 2,
    resources: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
) -> None:
    """A worker node joining `cluster`, with ports from its own block and its own resources/labels."""
    expected = _nodes(cluster) + 1
    p = {key: base + i for i, key in enumerate(["nm", "om", "agent_http", "agent_grpc", "renv", "metrics"])}
    argv = [
        str(RAY), "start", f"--address={cluster.gcs_address}", "--block",
        f"--node-manager-port={p['nm']}", f"--object-manager-port={p['om']}",
        f"--dashboard-agent-listen-port={p['agent_http']}", f"--dashboard-agent-grpc-port={p['agent_grpc']}",
        f"--runtime-env-agent-port={p['renv']}", f"--metrics-export-port={p['metrics']}",
        f"--min-worker-port={base + 10}", f"--max-worker-port={base + PORTS_PER_CLUSTER - 1}",
        f"--num-cpus={cpus}", "--num-gpus=0", f"--memory={4 * 1024**3}",
        f"--object-store-memory={200 * 1024**2}", "--disable-usage-stats",
        *_node_flags(resources, labels),
    ]  # fmt: skip
    log = cluster.temp_dir.parent / f"{name}.log"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            argv, env=_env(cluster.token), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    cluster.workers.append(process)

    def joined() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"ray start for node {name} exited; see {log.name}")
        return _nodes(cluster) >= expected

    poll(joined, timeout_s=90, every_s=0.3, what=f"node {name} joining {cluster.name}")


def start_cluster(
    name: str,
    base: int,
    root: Path,
    cpus: int = 2,
    resources: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
    token: str | None = None,
) -> RayCluster:
    """`token`: the auth token to start with (a restart of the same cluster); a new one by default."""
    temp_dir = root / name  # short: Ray's unix socket paths must stay under ~107 characters
    temp_dir.mkdir(parents=True, exist_ok=True)
    token = token or secrets.token_hex(16)
    token_file = root / f"{name}.token"
    token_file.write_text(token)
    p = {key: base + i for i, key in enumerate(
        ["gcs", "dashboard", "nm", "om", "agent_http", "agent_grpc", "renv", "metrics", "client"]
    )}  # fmt: skip
    # A restart reuses the ports: wait until no live process holds one (listens, or connects from it).
    # Ray's client server runs outside the head's process group, so stopping the head does not end it at
    # once; a restart that found its port taken ran for 3 s, then `ray start` killed the new cluster (CI).
    _wait_until_free(list(p.values()), f"the ports of Ray cluster {name}")
    argv = [
        str(RAY), "start", "--head", "--block",
        f"--port={p['gcs']}", f"--dashboard-port={p['dashboard']}", "--dashboard-host=127.0.0.1",
        "--include-dashboard=true",
        f"--node-manager-port={p['nm']}", f"--object-manager-port={p['om']}",
        f"--dashboard-agent-listen-port={p['agent_http']}", f"--dashboard-agent-grpc-port={p['agent_grpc']}",
        f"--runtime-env-agent-port={p['renv']}", f"--metrics-export-port={p['metrics']}",
        f"--ray-client-server-port={p['client']}",
        f"--min-worker-port={base + 10}", f"--max-worker-port={base + PORTS_PER_CLUSTER - 1}",
        f"--num-cpus={cpus}", "--num-gpus=0", f"--memory={4 * 1024**3}",
        f"--object-store-memory={200 * 1024**2}",
        f"--temp-dir={temp_dir}", "--disable-usage-stats",
        *_node_flags(resources, labels),
    ]  # fmt: skip
    with (root / f"{name}.log").open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            argv, env=_env(token), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    cluster = RayCluster(
        name, f"http://127.0.0.1:{p['dashboard']}", token, token_file, process, temp_dir,
        gcs_address=f"127.0.0.1:{p['gcs']}",
    )  # fmt: skip

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"ray start for {name} exited: {(root / f'{name}.log').read_text()[-2000:]}")
        try:
            r = requests.get(
                f"{cluster.address}/api/v0/nodes?detail=true",
                headers={"Authorization": f"Bearer {token}"},
                timeout=2,
            )
            return r.ok and r.json()["data"]["result"]["total"] >= 1
        except (requests.RequestException, ValueError, KeyError):
            return False

    try:
        poll(ready, timeout_s=90, every_s=0.3, what=f"Ray cluster {name}")
    except BaseException:
        cluster.stop()
        raise
    return cluster
