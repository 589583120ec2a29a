"""Drift monitoring on the real centre: a shifted input stream raises the score over the component's
threshold, visible in Prometheus (with the event counter), over REST and in `brain components drift`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import numpy as np

from tests.conftest import ROOT
from tests.integration.deploy.centre.conftest import Centre

DRIFT = "/api/v1/components/drift-probe/drift"


def call(c: Centre, x: np.ndarray) -> None:
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": list(x.shape), "data": x.tolist()}]}
    r = httpx.post(
        f"{c.url}/v2/models/drift-probe/infer", json=body, headers=c.headers("lubei-chem"), timeout=30
    )
    assert r.status_code == 200, r.text


def report(c: Centre, who: str) -> dict[str, object]:
    r = httpx.get(f"{c.url}{DRIFT}", headers=c.headers(who), timeout=30)
    assert r.status_code == 200, r.text
    found: dict[str, object] = r.json()
    return found


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def events(c: Centre) -> float:
    text = httpx.get(f"{c.url}/metrics", headers=c.headers("operator"), timeout=10).text
    for line in text.splitlines():
        if line.startswith('brain_drift_events_total{component="drift-probe"'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_drift_scores_are_for_the_owner_and_operators_only(centre: Centre) -> None:
    assert report(centre, "lubei-ops")["component"] == "drift-probe"  # the owner's ops key
    assert report(centre, "operator")["threshold"] == 0.25  # the platform's operator
    consumer = httpx.get(f"{centre.url}{DRIFT}", headers=centre.headers("lubei-chem"), timeout=30)
    assert consumer.status_code == 403 and "read drift" in consumer.json()["error"]
    other = httpx.get(f"{centre.url}{DRIFT}", headers=centre.headers("shantui"), timeout=30)
    assert other.status_code == 404  # not visible to another tenant: as if it did not exist
    assert httpx.get(f"{centre.url}{DRIFT}", timeout=30).status_code == 401
    # A public component of another tenant: visible, but its drift is its owner's business.
    public = httpx.get(
        f"{centre.url}/api/v1/components/sum-formula/drift", headers=centre.headers("shantui"), timeout=30
    )
    assert public.status_code == 403 and "read drift of other tenants" in public.json()["error"]


def test_a_shifted_stream_crosses_the_threshold(centre: Centre) -> None:
    rng = np.random.default_rng(11)
    for _ in range(8):  # 400 rows sampled at 0.5 (BRAIN_DRIFT_SAMPLE_RATE in the fixture)
        call(centre, rng.standard_normal((100, 4)).astype(np.float32))
    steady = report(centre, "lubei-ops")["versions"]
    assert isinstance(steady, list) and steady[0]["scored"], steady
    assert steady[0]["max_psi"] < 0.1 and not steady[0]["drifted"], steady
    assert events(centre) == 0

    for _ in range(16):  # the plant's raw material changed: every input up by 1.5 standard deviations
        call(centre, (rng.standard_normal((100, 4)) + 1.5).astype(np.float32))
    shifted = report(centre, "lubei-ops")["versions"]
    assert isinstance(shifted, list)
    version = shifted[0]
    assert version["drifted"] and version["max_psi"] > 0.25, version
    psi = {f["name"]: f["psi"] for f in version["features"]}
    assert set(psi) == {"x[0]", "x[1]", "x[2]", "x[3]", "y[0]"}
    # The event: counted once at the crossing by the replica's background check (every 2 s).
    wait_for("the drift event", lambda: events(centre) == 1)
    text = httpx.get(f"{centre.url}/metrics", headers=centre.headers("operator"), timeout=10).text
    assert 'brain_drift_psi{component="drift-probe",feature="x[0]",version="1"}' in text

    # The same scores in the CLI, read from the centre with the owner's key.
    out = subprocess.run(
        [
            *(sys.executable, "-c", "from deploy.cli.main import main; main()"),
            *("components", "--url", centre.url, "drift", "drift-probe", "--json"),
        ],
        env={
            **os.environ,
            "BRAIN_HOME": str(centre.home),
            "BRAIN_API_KEY": centre.keys["lubei-ops"],
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["versions"][0]["drifted"] and shown["threshold"] == 0.25
