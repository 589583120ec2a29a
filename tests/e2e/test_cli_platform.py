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
