from __future__ import annotations

import json
import socket

import httpx

from tests.conftest import free_port
from tests.e2e.conftest import Brain


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
    assert proc.returncode == 1 and not report["ok"]
