"""One capability centre (local Ray + Serve with HAProxy ingress) for the serving tests.

It is started the way `brain up` starts it (the runner process) on free ports, over a BRAIN_HOME
prepared with components, tenants and keys, and stopped at the end, HAProxy included.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from deploy.centre.oip import DATATYPES
from deploy.embedded.proctree import read_recorded, still_running, terminate
from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantSpec, TenantStore
from deploy.tenancy.bootstrap import ensure_operator
from model_hub import HubSettings, Registry, ServingPolicy
from model_hub.pipeline import PipelineSpec
from model_hub.reference_stats import record_training_reference
from tests import onnx_models
from tests.cards import card_data, make_card
from tests.conftest import ROOT, free_port
from tests.torch_modules import Refiner

X3 = {"name": "x", "datatype": "FP64", "shape": [-1, 3]}


@dataclass
class Centre:
    url: str
    home: Path
    keys: dict[str, str]
    registry: Registry
    store: TenantStore
    dashboard: str = ""
    grpc: str = ""
    """host:port of the OIP gRPC service."""

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def torch_refiner() -> Refiner:
    """The torch component's module; the same weights every time it is built."""
    import torch

    torch.manual_seed(7)
    return Refiner()


def _prepare(home: Path) -> tuple[Registry, TenantStore, dict[str, str]]:
    registry = Registry(HubSettings(home=home, formula_packages=["components", "tests"]))
    # lubei-chem's private reactor model, two versions (v1 production); a public formula; an
    # industry-visible equipment model; and a component whose only version is deprecated.
    registry.register_onnx(make_card(visibility="private"), onnx_models.linear(seed=1))
    registry.register_onnx(make_card(visibility="private"), onnx_models.linear(seed=2), new_version=True)
    registry.promote("reactor-quality", 1)
    registry.register_formula(
        make_card(
            name="sum-formula",
            kind="mechanism",
            visibility="public",
            owner="province",
            outputs=[{"name": "y", "datatype": "FP64", "shape": [-1, 1]}],
            inputs=[{"name": "x", "datatype": "FP64", "shape": [-1, 3]}],
        ),
        "tests.formulas:scale",
        {"factor": 2.0},
    )
    # A pipeline of the public sum-formula and a root formula, both private to `bulk` (the catalogue
    # and usage tests of other tenants must not see them), for a gRPC call.
    registry.register_formula(
        make_card(
            name="root-formula",
            kind="mechanism",
            visibility="private",
            owner="bulk",
            inputs=[{"name": "y", "datatype": "FP64", "shape": [-1, 1]}],
            outputs=[{"name": "z", "datatype": "FP64", "shape": [-1, 1]}],
        ),
        "tests.formulas:root",
        {},
    )
    pipeline = card_data(name="sum-root", kind="mechanism", owner="bulk", visibility="private", inputs=[X3])
    pipeline.pop("outputs")
    pipeline["steps"] = [
        {"name": "sum", "component": "sum-formula", "inputs": {"x": "input.x"}},
        {"name": "root", "component": "root-formula", "inputs": {"y": "sum.y"}},
    ]
    pipeline["outputs"] = [{"name": "z", "from": "root.z"}]
    registry.register_pipeline(PipelineSpec.parse(pipeline))
    # A private component registered with training statistics (standard normal inputs) and a drift
    # threshold: the drift tests shift its traffic.
    registry.register_onnx(make_card(name="drift-probe", visibility="private"), onnx_models.linear(seed=5))
    normal = np.random.default_rng(3).standard_normal((4000, 4)).astype(np.float32)
    record_training_reference(registry, "drift-probe", 1, {"x": normal})
    registry.set_serving("drift-probe", ServingPolicy(drift_threshold=0.25))
    # Every OIP datatype in and out (the codecs' round trip), private to the tenant `bulk`; and every
    # datatype with a typed-contents field in gRPC (all but FP16).
    for name, datatypes in (("echo-types", DATATYPES), ("echo-typed", [d for d in DATATYPES if d != "FP16"])):
        registry.register_formula(
            make_card(
                name=name,
                kind="mechanism",
                visibility="private",
                owner="bulk",
                inputs=[{"name": d.lower(), "datatype": d, "shape": [-1, 3]} for d in datatypes],
                outputs=[{"name": f"out_{d.lower()}", "datatype": d, "shape": [-1, 3]} for d in datatypes],
            ),
            "tests.formulas:echo",
            {},
        )
    registry.register_onnx(
        make_card(
            name="bearing-health", visibility="industry", owner="weichai", industries=["high-end-equipment"]
        ),
        onnx_models.linear(seed=3),
    )
    registry.register_onnx(
        make_card(name="retired-model", visibility="public", owner="province"), onnx_models.linear()
    )
    registry.deprecate("retired-model", 1)
    # A component kept in torch (data-dependent loop), private to lubei-chem.
    registry.register_torch_module(make_card(name="reactor-refiner", visibility="private"), torch_refiner())
    store = TenantStore.open(PlatformSettings(home=home))
    tenants = [
        ("lubei-chem", "鲁北化工", "enterprise", ["high-end-chemicals"], "binzhou", {}),
        ("shantui", "山推股份", "enterprise", ["high-end-equipment", "construction-machinery"], "jining", {}),
        ("tight", "限流测试", "enterprise", ["transport"], "jinan", {"rate_per_second": 0.5, "burst": 2}),
        ("quota", "配额测试", "enterprise", ["transport"], "jinan", {"monthly_quota": 3}),
        # For bursts (batching): no practical rate limit.
        (
            "bulk",
            "批量测试",
            "enterprise",
            ["high-end-equipment"],
            "weifang",
            {"rate_per_second": 1e6, "burst": 10**6},
        ),
    ]
    keys: dict[str, str] = {}
    for name, display, kind, industries, city, limits in tenants:
        store.create_tenant(
            TenantSpec(name=name, display=display, kind=kind, industries=industries, city=city, **limits),
            actor="tests",
        )
        keys[name] = store.issue_key(name, Role.consumer, "tests").secret
    keys["lubei-ops"] = store.issue_key("lubei-chem", Role.ops, "tests").secret
    issued = ensure_operator(store)  # the platform's operator: the only tenant that reads /metrics
    assert issued is not None
    keys["operator"] = issued.secret
    return registry, store, keys


@pytest.fixture(scope="package")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Centre]:
    home = tmp_path_factory.mktemp("centre-home")
    registry, store, keys = _prepare(home)
    port, dashboard, grpc_port = free_port(), free_port(), free_port()
    ready = home / "ready.json"
    env = {
        **os.environ,
        "BRAIN_HOME": str(home),
        "BRAIN_FORMULA_PACKAGES": '["components", "tests"]',
        "BRAIN_MAX_BODY_BYTES": "100000",
        "BRAIN_USAGE_FLUSH_SECONDS": "0.5",
        "BRAIN_KEY_CACHE_SECONDS": "1",
        "BRAIN_DRIFT_SAMPLE_RATE": "0.5",
        "PYTHONPATH": str(ROOT),
    }
    log = (home / "runner.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deploy.embedded.runner",
            "--home",
            str(home),
            "--port",
            str(port),
            "--grpc-port",
            str(grpc_port),
            "--dashboard-port",
            str(dashboard),
            "--ready-file",
            str(ready),
            "--num-cpus",
            "2",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (home / "runner.log").read_text()[-3000:]
            if ready.exists():
                try:
                    if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            assert time.monotonic() < deadline, "the capability centre did not start in 240 s"
            time.sleep(0.5)
        yield Centre(
            url, home, keys, registry, store, f"http://127.0.0.1:{dashboard}", f"127.0.0.1:{grpc_port}"
        )
    finally:
        children = home / "run" / "serve-children.json"
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        left = still_running(read_recorded(children))
        terminate(left)
        log.close()
        registry.close()
        assert not left, f"processes outlived the capability centre: {left}"
        for left_port in (port, grpc_port):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", left_port)) != 0, f"something still listens on {left_port}"
