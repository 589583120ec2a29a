"""`brain up` / `brain down`: start and stop the embedded platform's processes.

Every process the platform starts is recorded (pid, command, port) in ``$BRAIN_HOME/run/platform.json``
so that `brain down`, a crash-recovery `brain up`, or a test fixture can stop exactly those
processes and nothing else. Each child gets its own session so a terminal's Ctrl-C reaches only
`brain up`, which then stops its children in order.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from deploy.embedded.errors import PlatformError
from deploy.embedded.network import ensure_token, token_path
from deploy.embedded.proctree import alive, read_recorded, still_running, terminate
from deploy.settings import scheduler_env
from model_hub.settings import HubSettings

MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""Settings of the embedded `mlflow server`. MLflow 3 starts a job-execution subsystem by default (a
job runner and one huey consumer process per job type, ~250 MB each; `mlflow/server/__init__.py`)
for its GenAI jobs; the platform uses MLflow as a registry only, so it is switched off."""


@dataclass
class Service:
    name: str
    pid: int
    port: int
    url: str
    command: list[str]
    log: str
    # Signal only the main process first (it shuts its own children down in order), then clean up
    # the descendants it recorded in this file.
    children_file: str = ""


@dataclass(frozen=True)
class Ended:
    """Why services that a foreground `brain up` started no longer run."""

    deliberate: bool
    """True when `brain down` stopped them; False when one exited by itself."""
    services: list[Service]
    """The services that are gone: all of them after `brain down`, the ones that exited otherwise."""

    @property
    def message(self) -> str:
        names = ", ".join(s.name for s in self.services)
        verb = "is" if len(self.services) == 1 else "are"
        if self.deliberate:
            return f"the platform was stopped (brain down): {names} {verb} gone"
        logs = ", ".join(s.log for s in self.services)
        return f"{names} exited by itself (see {logs})"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``check`` until it is true; raise PlatformError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise PlatformError(f"{what} did not become ready within {timeout:.0f} s")


class Platform:
    """The embedded platform's processes under ``$BRAIN_HOME``."""

    def __init__(self, home: Path | None = None, mlflow_port: int = 5000, host: str = "127.0.0.1") -> None:
        self.hub = HubSettings() if home is None else HubSettings(home=home)
        self.home = self.hub.home_dir
        self.mlflow_port = mlflow_port
        self.host = host
        self.run_dir = self.home / "run"
        self.logs = self.home / "logs"
        self.state_file = self.run_dir / "platform.json"
        self.stop_file = self.run_dir / "stopping.json"
        """Present (with the stopper's pid) while `Platform.down` stops the services: a foreground `brain up`
        then knows that the processes it sees exit are being stopped, not crashing."""
        self.ray_token_file = token_path(self.home)
        """The local Ray's auth token (mode 0600): the centre's head is started with it, the scheduler's pool
        `local` authenticates with it."""

    # --- state -------------------------------------------------------------------------------

    def services(self) -> list[Service]:
        if not self.state_file.exists():
            return []
        return [Service(**s) for s in json.loads(self.state_file.read_text())]

    def _save(self, services: list[Service]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(s) for s in services], indent=1))
        tmp.replace(self.state_file)

    def _record(self, service: Service) -> None:
        self._save([*[s for s in self.services() if s.name != service.name], service])

    # --- start -------------------------------------------------------------------------------

    def _running(self, name: str) -> Service | None:
        return next((s for s in self.services() if s.name == name and alive(s.pid)), None)

    def _check_ports(self, ports: dict[int, str]) -> None:
        for port, what in ports.items():
            if not port_free(port, self.host):
                raise PlatformError(
                    f"port {port} is in use, so {what} cannot start; stop what holds it (`brain down`, or "
                    f"`ss -ltnp 'sport = :{port}'` to see it) or choose another port (`brain up --help`)"
                )

    def _launch(
        self,
        name: str,
        command: list[str],
        port: int,
        url: str,
        health_url: str,
        timeout: float,
        ready_file: Path | None = None,
        children_file: str = "",
        env: dict[str, str] | None = None,
    ) -> Service:
        """Start one service in its own session, record it, and wait until ``health_url`` answers 200.

        A service that exits or does not become healthy in time is stopped again and reported with
        the path of its log.
        """
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {}), "BRAIN_HOME": str(self.home)},
            )
        service = Service(name, proc.pid, port, url, command, str(log), children_file=children_file)
        self._record(service)

        def healthy() -> bool:
            if proc.poll() is not None:
                raise PlatformError(f"{name} exited with code {proc.returncode}; see {log}")
            if ready_file is not None and not ready_file.exists():
                return False
            try:
                return httpx.get(health_url, timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, timeout, f"{name} on {url}", interval=0.3)
        except PlatformError:
            self.stop_service(service)
            raise
        return service

    def start_mlflow(self, timeout: float = 90.0) -> Service:
        """The MLflow tracking server and UI on the embedded SQLite store, on loopback whatever ``host`` is:
        MLflow has no authentication, so it must never be reachable from another machine."""
        running = self._running("mlflow")
        if running is not None:
            return running
        self._check_ports({self.mlflow_port: "the MLflow UI"})
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", self.hub.tracking_uri,
            "--default-artifact-root", self.hub.artifact_uri,
            "--no-serve-artifacts",
            "--host", "127.0.0.1", "--port", str(self.mlflow_port), "--workers", "1",
        ]  # fmt: skip
        url = f"http://127.0.0.1:{self.mlflow_port}"
        return self._launch(
            "mlflow", command, self.mlflow_port, url, f"{url}/health", timeout, env=MLFLOW_SERVER_ENV
        )

    def start_centre(
        self, port: int = 8000, dashboard_port: int = 8265, timeout: float = 240.0, grpc_port: int = 8001
    ) -> Service:
        """The capability centre: a local Ray head with Ray Serve (HAProxy ingress) on ``port`` (REST) and
        ``grpc_port`` (OIP gRPC; 0: none)."""
        running = self._running("capability-centre")
        if running is not None:
            return running
        ports = {port: "the capability centre", dashboard_port: "the Ray dashboard"}
        if grpc_port:
            ports[grpc_port] = "the capability centre's gRPC service"
        self._check_ports(ports)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ready = self.run_dir / "centre-ready.json"
        ready.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "deploy.embedded.runner", "--home", str(self.home), "--host", self.host,
            "--port", str(port), "--grpc-port", str(grpc_port), "--dashboard-port", str(dashboard_port),
            "--ready-file", str(ready),
            "--ray-token-file", str(ensure_token(self.ray_token_file)),
        ]  # fmt: skip
        url = f"http://{self.host}:{port}"
        return self._launch(
            "capability-centre", command, port, url, f"{url}/v2/health/ready", timeout,
            ready_file=ready, children_file=str(self.run_dir / "serve-children.json"),
        )  # fmt: skip

    def start_scheduler(
        self, dashboard_port: int, metrics_port: int, api_port: int = 8300, timeout: float = 60.0
    ) -> Service:
        """The scheduler's live loop, with the local Ray (the centre's head) as the pool `local`, and its
        REST API (the recorded URL) checking the platform's tenant keys."""
        running = self._running("scheduler")
        if running is not None:
            return running
        self._check_ports({metrics_port: "the scheduler's metrics endpoint", api_port: "the scheduler API"})
        command = [
            sys.executable, "-m", "scheduler.service", "--home", str(self.home),
            "--pool", f"local=http://127.0.0.1:{dashboard_port}", "--metrics-port", str(metrics_port),
            "--api-port", str(api_port), "--token-file", str(ensure_token(self.ray_token_file)),
        ]  # fmt: skip
        url = f"http://{self.host}:{api_port}"
        return self._launch(
            "scheduler", command, api_port, url, f"{url}/healthz", timeout, env=scheduler_env()
        )

    def start_portal(self, port: int, centre_url: str, scheduler_url: str, timeout: float = 30.0) -> Service:
        """The portal (`deploy/portal`): web pages over the centre's and the scheduler's REST APIs."""
        running = self._running("portal")
        if running is not None:
            return running
        self._check_ports({port: "the portal"})
        command = [
            sys.executable, "-m", "deploy.portal", "--host", self.host, "--port", str(port),
            "--centre", centre_url, "--scheduler", scheduler_url,
        ]  # fmt: skip
        url = f"http://{self.host}:{port}"
        return self._launch("portal", command, port, url, f"{url}/healthz", timeout)

    # --- stop --------------------------------------------------------------------------------

    def stop_service(self, service: Service, grace: float = 10.0) -> None:
        """Stop one recorded service: SIGTERM, then SIGKILL after ``grace`` s, then its leftovers."""
        if service.children_file:
            grace = max(grace, 90.0)  # Serve's graceful shutdown takes up to ~40 s on a small host
        if alive(service.pid):
            with contextlib.suppress(ProcessLookupError):
                if service.children_file:
                    os.kill(service.pid, signal.SIGTERM)
                else:
                    os.killpg(service.pid, signal.SIGTERM)
            try:
                wait_until(lambda: not alive(service.pid), grace, service.name, interval=0.1)
            except PlatformError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.pid, signal.SIGKILL)
                wait_until(lambda: not alive(service.pid), 5.0, f"{service.name} after SIGKILL", 0.1)
        if service.children_file:
            leftovers = still_running(read_recorded(Path(service.children_file)))
            terminate(leftovers)
        self._save([s for s in self.services() if s.name != service.name])

    def down(self) -> list[str]:
        """Stop every recorded service, newest first; return their names."""
        services = self.services()
        if not services:
            return []
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.stop_file.write_text(json.dumps({"pid": os.getpid()}))
        stopped = []
        try:
            for service in reversed(services):
                self.stop_service(service)
                stopped.append(service.name)
        finally:
            # Removed only after the last record: whoever sees no marker also sees the records' end state.
            self.stop_file.unlink(missing_ok=True)
        return stopped

    def stopping(self) -> bool:
        """Whether a `brain down` is stopping the platform now (the marker of one that died is ignored)."""
        try:
            pid = int(json.loads(self.stop_file.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return alive(pid)

    def ended(self, started: list[Service]) -> Ended | None:
        """None while the services of ``started`` run, or while a `brain down` is still stopping them;
        otherwise why they ended: all stopped by `brain down`, or some exited by themselves."""
        # The order matters: `down` writes its marker before it stops anything and removes it after the last
        # record, so a service seen gone here, with no marker after that, is either still recorded because
        # it exited by itself, or no longer recorded because `brain down` has finished.
        gone = [s for s in started if not alive(s.pid)]
        if not gone or self.stopping():
            return None
        recorded = {s.name: s.pid for s in self.services()}
        crashed = [s for s in gone if recorded.get(s.name) == s.pid]
        if crashed:
            return Ended(deliberate=False, services=crashed)
        if len(gone) == len(started):
            return Ended(deliberate=True, services=gone)
        return None  # some were stopped on purpose, the rest still run
