from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from tests.conftest import free_port
from tests.e2e.conftest import BRAIN, Brain


def test_up_serves_the_mlflow_ui_and_down_stops_it(brain: Brain) -> None:
    port = str(free_port())
    try:
        # The registry alone: the full platform (Ray, Serve, scheduler) is tested in test_platform_flow.
        out = brain("up", "--detach", "--no-serve", "--no-builtins", "--mlflow-port", port)
        assert f"http://127.0.0.1:{port}" in out.stdout
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        again = brain("up", "--detach", "--no-serve", "--no-builtins", "--mlflow-port", port)  # reuses it
        assert "MLflow UI" in again.stdout
    finally:
        down = brain("down")
    assert "mlflow" in down.stdout
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(port))) != 0, "the MLflow server is still listening"
    assert "nothing was running" in brain("down").stdout


def test_the_embedded_mlflow_runs_no_job_consumers(brain: Brain, tmp_path: Path) -> None:
    """MLflow 3's job execution (a runner and ~250 MB huey consumers) is off: the platform never uses it."""
    port = str(free_port())
    try:
        brain("up", "--detach", "--no-serve", "--no-builtins", "--mlflow-port", port)
        records = json.loads((tmp_path / "home" / "run" / "platform.json").read_text())
        mlflow = next(r for r in records if r["name"] == "mlflow")
        # `brain up` returned after /health answered; MLflow launches its job runner right after the
        # web server's process, before that server can answer, so a runner would be there by now.
        below = [" ".join(p.cmdline()) for p in psutil.Process(mlflow["pid"]).children(recursive=True)]
        assert below, "the MLflow server has no web server process below it"
        consumers = [c for c in below if "mlflow.server.jobs" in c or "huey" in c]
        assert not consumers, f"job-execution processes run under the embedded MLflow: {consumers}"
        assert len(below) <= 2, f"more processes than the web server under the embedded MLflow: {below}"
    finally:
        brain("down")


def test_a_foreground_up_exits_when_brain_down_stops_the_platform(
    brain: Brain, brain_env: dict[str, str], tmp_path: Path
) -> None:
    port = str(free_port())
    log = tmp_path / "up.out"
    with log.open("w") as out:
        up = subprocess.Popen(
            [str(BRAIN), "up", "--no-serve", "--no-builtins", "--mlflow-port", port],
            env=brain_env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _poll(lambda: "press Ctrl-C" in log.read_text() or up.poll() is not None, 180)
        assert up.poll() is None, log.read_text()
        assert "mlflow" in brain("down").stdout  # from a second process, as in another terminal
        _poll(lambda: up.poll() is not None, 30)
        out = log.read_text()
        assert up.returncode == 0, out
        assert "the platform was stopped (brain down): mlflow is gone" in out
        assert "stopped:" not in out, "the foreground `brain up` tried to stop the platform a second time"
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)  # stops what it started
            up.wait(120)
        brain("down")


def _poll(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_doctor_reports_json(brain: Brain) -> None:
    proc = brain("doctor", "--json", "--mlflow-port", str(free_port()), check=False)
    report = json.loads(proc.stdout)
    names = {c["check"] for c in report["checks"]}
    assert {"python", "package mlflow", "package torch", "data folder", "registry"} <= names
    assert report["ok"] == (proc.returncode == 0)
    registry = next(c for c in report["checks"] if c["check"] == "registry")
    assert registry["ok"] and "0 registered, 0 indexed" in registry["detail"]


def test_doctor_checks_every_port_of_the_platform(brain: Brain) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = {
            "--mlflow-port": free_port(),
            "--port": free_port(),
            "--grpc-port": free_port(),
            "--dashboard-port": free_port(),
            "--scheduler-api-port": busy,
            "--scheduler-metrics-port": free_port(),
        }
        args = [str(a) for pair in ports.items() for a in pair]
        proc = brain("doctor", "--json", *args, check=False)
    report = json.loads(proc.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    for option, number in ports.items():
        assert f"port {number}" in checks, option
    assert not checks[f"port {busy}"]["ok"]
    assert checks[f"port {busy}"]["detail"] == "scheduler REST API: in use by another process"
    assert checks[f"port {ports['--scheduler-metrics-port']}"]["detail"] == "scheduler metrics: free"
    assert checks[f"port {ports['--grpc-port']}"]["detail"] == "capability centre gRPC: free"
    assert proc.returncode == 1 and not report["ok"]


# A platform process that listens on every interface as well as on loopback.
EXPOSED_SERVICE = """
import socket, sys, time
exposed, private = socket.socket(), socket.socket()
exposed.bind(("0.0.0.0", 0)); exposed.listen()
private.bind(("127.0.0.1", 0)); private.listen()
print(exposed.getsockname()[1], private.getsockname()[1], flush=True)
time.sleep(120)
"""


def test_doctor_fails_on_a_platform_socket_off_loopback(brain: Brain, tmp_path: Path) -> None:
    service = subprocess.Popen(
        [sys.executable, "-c", EXPOSED_SERVICE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert service.stdout is not None
        exposed, private = (int(p) for p in service.stdout.readline().split())
        run = tmp_path / "home" / "run"
        run.mkdir(parents=True)
        record = {"name": "mlflow", "pid": service.pid, "port": private, "url": "", "command": [], "log": ""}
        (run / "platform.json").write_text(json.dumps([record]))
        proc = brain("doctor", "--json", "--mlflow-port", str(free_port()), check=False)
        checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
        assert not checks[f"listen 0.0.0.0:{exposed}"]["ok"]
        assert (
            "reachable from other machines while BRAIN_HOST=127.0.0.1"
            in (checks[f"listen 0.0.0.0:{exposed}"]["detail"])
        )
        assert checks[f"listen 127.0.0.1:{private}"]["ok"]
        assert checks["listening sockets"]["detail"].startswith("2 sockets of 1 platform processes")
        assert proc.returncode == 1
        # Bound to all interfaces on purpose: reported, not a failure.
        env = {**os.environ, "BRAIN_HOME": str(tmp_path / "home"), "BRAIN_HOST": "0.0.0.0"}
        exposing = subprocess.run(
            [str(BRAIN), "doctor", "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        checks = {c["check"]: c for c in json.loads(exposing.stdout)["checks"]}
        assert checks[f"listen 0.0.0.0:{exposed}"]["ok"]
        assert "exposed" in checks[f"listen 0.0.0.0:{exposed}"]["detail"]
    finally:
        service.kill()
        service.wait()
        if service.stdout is not None:
            service.stdout.close()


def test_doctor_refuses_a_ray_token_readable_by_others(brain: Brain, tmp_path: Path) -> None:
    run = tmp_path / "home" / "run"
    run.mkdir(parents=True)
    token = run / "ray_auth_token"
    token.write_text("t" * 64)
    token.chmod(0o644)
    proc = brain("doctor", "--json", "--mlflow-port", str(free_port()), check=False)
    checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    assert not checks["ray auth token"]["ok"] and "chmod 600" in checks["ray auth token"]["detail"]
    token.chmod(0o600)
    proc = brain("doctor", "--json", "--mlflow-port", str(free_port()), check=False)
    assert {c["check"]: c for c in json.loads(proc.stdout)["checks"]}["ray auth token"]["ok"]
