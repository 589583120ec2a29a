"""The platform as a user runs it: `brain up`, register, call with a tenant's key, see usage, `brain down`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
import yaml

from deploy.db import utcnow
from deploy.embedded.proctree import read_recorded, still_running
from deploy.metering.calendar import month_of
from tests import onnx_models
from tests.cards import card_data
from tests.conftest import ROOT, free_port
from tests.e2e.conftest import BRAIN


class Platform:
    def __init__(self, home: Path, ports: dict[str, int]) -> None:
        self.home = home
        self.ports = ports
        self.url = f"http://127.0.0.1:{ports['serve']}"
        self.env = {**os.environ, "BRAIN_HOME": str(home), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
        self.up_said = ""
        """What `brain up` printed, whitespace collapsed."""

    def brain(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(BRAIN), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"brain {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    ports = {
        "mlflow": free_port(),
        "serve": free_port(),
        "grpc": free_port(),
        "dashboard": free_port(),
        "scheduler": free_port(),
        "scheduler-api": free_port(),
        "portal": free_port(),
    }
    p = Platform(tmp_path_factory.mktemp("platform-home"), ports)
    try:
        up = p.brain(
            "up",
            "--detach",
            "--mlflow-port",
            str(ports["mlflow"]),
            "--port",
            str(ports["serve"]),
            "--grpc-port",
            str(ports["grpc"]),
            "--dashboard-port",
            str(ports["dashboard"]),
            "--scheduler-metrics-port",
            str(ports["scheduler"]),
            "--scheduler-api-port",
            str(ports["scheduler-api"]),
            "--portal-port",
            str(ports["portal"]),
        )
        p.admin_key = up.stdout.strip().splitlines()[-2].strip()  # type: ignore[attr-defined]
        p.up_said = " ".join(up.stdout.split())
        assert p.admin_key.startswith("ibk_"), up.stdout  # type: ignore[attr-defined]
        yield p
    finally:
        records = p.home / "run" / "serve-children.json"
        down = p.brain("down", check=False)
        assert down.returncode == 0, down.stderr
        for name, port in ports.items():
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0, (
                    f"{name} port {port} still open after `brain down`"
                )
        left = still_running(read_recorded(records))
        assert not left, f"processes outlived `brain down`: {left}"


def test_up_registers_the_builtins_visible_in_mlflow(platform: Platform) -> None:
    search = httpx.get(
        f"http://127.0.0.1:{platform.ports['mlflow']}/api/2.0/mlflow/registered-models/search",
        params={"max_results": 100},
    ).json()
    models = {m["name"]: m for m in search["registered_models"]}
    # The seven built-ins, the adapter of the built-in pipeline, and the pipeline itself.
    assert len(models) == 9
    assert "9 in production: 8 components, 1 pipeline" in platform.up_said, platform.up_said
    assert {a["alias"] for a in models["energy_carbon_forecast"].get("aliases", [])} == {"production"}
    assert "GB/T 32150-2015" in models["carbon_accounting"]["description"]
    assert {a["alias"] for a in models["energy_forecast"].get("aliases", [])} == {"production"}


def test_demo_calls_every_builtin(platform: Platform) -> None:
    answers = json.loads(platform.brain("demo", "--url", platform.url, "--json").stdout)
    assert len(answers) == 8  # the seven built-ins and the built-in pipeline
    assert all(a["status"] == 200 for a in answers), [a for a in answers if a["status"] != 200]
    carbon = next(a for a in answers if a["component"] == "carbon_accounting")
    total = next(o for o in carbon["response"]["outputs"] if o["name"] == "total_tco2e")
    assert all(v > 0 for v in total["data"])
    # The pipeline: forecast → ledger → carbon in one call; the CO2 is the forecast energy's, at the
    # 2022 grid factor (0.5703 tCO2/MWh), and the steps are timed.
    pipeline = next(a for a in answers if a["component"] == "energy_carbon_forecast")["response"]
    outputs = {o["name"]: o["data"] for o in pipeline["outputs"]}
    assert len(outputs["load_forecast"]) == 24 * len(outputs["daily_energy_kwh"])
    expected = [kwh / 1000 * 0.5703 for kwh in outputs["daily_energy_kwh"]]
    assert outputs["electricity_tco2e"] == pytest.approx(expected, rel=1e-5)
    assert set(pipeline["parameters"]["timings_ms"]) == {"forecast", "ledger", "carbon", "total"}
    shown = platform.brain("demo", "--url", platform.url).stdout
    assert "pipeline 组件编排" in shown and "electricity_tco2e" in shown


def test_register_call_with_tritonclient_meter_and_hide(platform: Platform, tmp_path: Path) -> None:
    import tritonclient.http as triton

    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(card_data(visibility="private", owner="lubei-chem"), allow_unicode=True))
    onnx.save(onnx_models.linear(seed=5), str(tmp_path / "m.onnx"))
    platform.brain(
        "components",
        "register",
        "--card",
        str(card),
        "--onnx",
        str(tmp_path / "m.onnx"),
        "--promote",
        "production",
    )
    platform.brain(
        "tenants",
        "create",
        "lubei-chem",
        "--display",
        "鲁北化工",
        "--kind",
        "enterprise",
        "--industry",
        "high-end-chemicals",
        "--city",
        "binzhou",
    )
    platform.brain(
        "tenants",
        "create",
        "shantui",
        "--display",
        "山推股份",
        "--kind",
        "enterprise",
        "--industry",
        "construction-machinery",
        "--city",
        "jining",
    )
    key = json.loads(platform.brain("keys", "issue", "lubei-chem", "--json").stdout)["key"]
    other = json.loads(platform.brain("keys", "issue", "shantui", "--json").stdout)["key"]

    client = triton.InferenceServerClient(platform.url.removeprefix("http://"))
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    inp = triton.InferInput("x", [2, 4], "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer("reactor-quality", [inp], headers={"Authorization": f"Bearer {key}"})
    from model_hub.convert import run_onnx

    np.testing.assert_allclose(
        result.as_numpy("y"), run_onnx(onnx_models.linear(seed=5), {"x": x})[0], rtol=1e-5
    )
    with pytest.raises(triton.InferenceServerException, match="404|not found"):
        client.infer("reactor-quality", [inp], headers={"Authorization": f"Bearer {other}"})
    client.close()

    month = month_of(utcnow())  # the metering calendar (China Standard Time), not the host's
    deadline = time.monotonic() + 30
    lines: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        out = platform.brain(
            "usage", "report", "--month", month, "--tenant", "lubei-chem", "--format", "json"
        )
        lines = json.loads(out.stdout)
        if any(line["component"] == "reactor-quality" and line["calls"] >= 1 for line in lines):
            break
        time.sleep(1)
    assert any(line["component"] == "reactor-quality" and line["calls"] >= 1 for line in lines), lines


def test_a_job_runs_on_the_local_pool(platform: Platform) -> None:
    python = str(Path(sys.executable))
    job = json.loads(
        platform.brain(
            "jobs",
            "submit",
            "--tenant",
            "platform",
            "--entrypoint",
            f"{python} -c 'print(6 * 7)'",
            "--cpu",
            "1",
            "--json",
        ).stdout
    )
    deadline = time.monotonic() + 120
    state = job["state"]
    while time.monotonic() < deadline and state not in ("succeeded", "failed"):
        time.sleep(0.5)
        state = json.loads(platform.brain("jobs", "show", job["id"], "--json").stdout)["state"]
    assert state == "succeeded"
    assert "42" in platform.brain("jobs", "logs", job["id"]).stdout


def test_the_scheduler_api_runs_a_job_with_the_admin_key(platform: Platform) -> None:
    from scheduler.sdk import NotAuthenticated, SchedulerAPI

    services = json.loads((platform.home / "run" / "platform.json").read_text())
    url = next(s["url"] for s in services if s["name"] == "scheduler")
    assert url == f"http://127.0.0.1:{platform.ports['scheduler-api']}"
    with SchedulerAPI(url, platform.admin_key) as api:  # type: ignore[attr-defined]
        assert [p["name"] for p in api.pools()] == ["local"]
        job = api.submit({"entrypoint": f"{sys.executable} -c 'print(6 * 9)'", "bundles": [{"cpu": 1}]})
        assert job["tenant"] == "platform"
        assert api.wait(job["id"], timeout_s=120)["state"] == "succeeded"
        assert "54" in api.logs(job["id"])
    with pytest.raises(NotAuthenticated):
        SchedulerAPI(url, "ibk_00000000_wrong").jobs()


def test_training_runs_as_a_scheduler_job_with_lineage(platform: Platform) -> None:
    out = json.loads(
        platform.brain("components", "train", "carbon_accounting", "--retrain", "--json", timeout=300).stdout
    )
    assert out["job"].startswith("job-")
    assert out["components"] == [
        {
            "name": "carbon_accounting",
            "version": 2,
            "trained": True,
            "seconds": out["components"][0]["seconds"],
        }
    ]
    shown = json.loads(platform.brain("components", "show", "carbon_accounting", "--json").stdout)
    newest = shown["versions"][-1]
    assert newest["version"] == 2 and newest["aliases"] == ["production"]
    assert newest["lineage"]["training_job"] == out["job"]


def test_the_platform_listens_on_loopback_only(platform: Platform) -> None:
    """Every socket the platform's processes listen on (Ray's GCS, raylet, dashboard and agents, Serve's
    HAProxy with its stats and metrics, MLflow, the scheduler) is on loopback, as `brain doctor` reports
    and as psutil sees it; the local Ray wants the platform's own token."""
    from deploy.embedded.network import haproxy_dir, listeners, platform_pids

    p = platform.ports
    proc = platform.brain(
        "doctor", "--json", "--mlflow-port", str(p["mlflow"]), "--port", str(p["serve"]),
        "--grpc-port", str(p["grpc"]), "--dashboard-port", str(p["dashboard"]),
        "--scheduler-metrics-port", str(p["scheduler"]), "--scheduler-api-port", str(p["scheduler-api"]),
        check=False,
    )  # fmt: skip
    checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    listening = {name: c for name, c in checks.items() if name.startswith("listen ")}
    # Everything on loopback, the Serve replicas' inter-deployment gRPC servers included (Serve 2.60 binds
    # them to [::]:0; deploy.centre.ingress.loopback_internal_grpc moves them).
    exposed = [c for c in listening.values() if not c["ok"]]
    assert exposed == []
    failing = [c for c in checks.values() if not c["ok"]]
    assert failing == [] and proc.returncode == 0, failing
    for port in [*p.values(), 8404, 9101]:
        assert f"listen 127.0.0.1:{port}" in listening, (port, sorted(listening))
    assert checks["listening sockets"]["ok"], checks["listening sockets"]

    records = json.loads((platform.home / "run" / "platform.json").read_text())
    pids = platform_pids(
        [r["pid"] for r in records], [Path(r["children_file"]) for r in records if r["children_file"]]
    )
    found = listeners(pids)
    assert len(found) >= len(p) + 2  # Ray's own ports besides ours and HAProxy's two
    assert [str(x) for x in found if not x.loopback] == []
    assert any(x.process.startswith("ray::ServeReplica") for x in found)  # the replica's own server is seen

    # Serve's HAProxy admin socket (mode 666, level admin) in a directory only the platform's user enters,
    # not in the shared /tmp/haproxy-serve.
    private = haproxy_dir(platform.home)
    assert private.stat().st_mode & 0o777 == 0o700
    assert list(private.glob("*/admin.sock")), sorted(str(x) for x in private.rglob("*"))

    token_file = platform.home / "run" / "ray_auth_token"
    assert token_file.stat().st_mode & 0o777 == 0o600 and checks["ray auth token"]["ok"]
    jobs = f"http://127.0.0.1:{p['dashboard']}/api/jobs/"
    assert httpx.get(jobs, timeout=10).status_code in (401, 403)
    token = token_file.read_text().strip()
    assert httpx.get(jobs, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
