"""The capability centre over real HTTP on real Ray Serve: protocol, clients, errors, tenancy, metering."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import httpx
import numpy as np
import pytest

from deploy.db import utcnow
from model_hub.convert import run_onnx
from tests import onnx_models
from tests.integration.deploy.centre.conftest import Centre

X = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]


def body(x: list[list[float]] = X, **extra: object) -> dict[str, object]:
    return {"inputs": [{"name": "x", "datatype": "FP32", "shape": [len(x), 4], "data": x}], **extra}


def expected(seed: int, x: list[list[float]] = X) -> np.ndarray:
    return run_onnx(onnx_models.linear(seed=seed), {"x": np.asarray(x, np.float32)})[0]


def post(c: Centre, path: str, who: str | None = "lubei-chem", **kw: object) -> httpx.Response:
    headers = c.headers(who) if who else {}
    return httpx.post(f"{c.url}{path}", headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def test_health_and_server_metadata(centre: Centre) -> None:
    assert httpx.get(f"{centre.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{centre.url}/v2/health/ready").json() == {"ready": True}
    meta = httpx.get(f"{centre.url}/v2").json()
    assert meta["name"] == "industry-brain" and "binary_tensor_data" in meta["extensions"]


def test_model_metadata_comes_from_the_card(centre: Centre) -> None:
    meta = httpx.get(f"{centre.url}/v2/models/reactor-quality", headers=centre.headers("lubei-chem")).json()
    assert meta["versions"] == ["1", "2"]
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    ready = httpx.get(
        f"{centre.url}/v2/models/reactor-quality/versions/2/ready", headers=centre.headers("lubei-chem")
    )
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_json_inference_uses_production_and_explicit_versions(centre: Centre) -> None:
    r = post(centre, "/v2/models/reactor-quality/infer", json=body(id="req-1", parameters={"x": 1}))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == "req-1" and out["model_version"] == "1"
    np.testing.assert_allclose(np.asarray(out["outputs"][0]["data"]).reshape(2, 1), expected(1), rtol=1e-5)
    r2 = post(centre, "/v2/models/reactor-quality/versions/2/infer", json=body())
    np.testing.assert_allclose(
        np.asarray(r2.json()["outputs"][0]["data"]).reshape(2, 1), expected(2), rtol=1e-5
    )


def test_the_replicas_ingress_middleware_is_installed(centre: Centre) -> None:
    # deploy/centre/ingress.py names inference calls itself (prefix-counter, not a UUID) and turns off
    # Serve's disconnect watch for them; the id in the answer proves Serve runs it in the replicas.
    r = post(centre, "/v2/models/reactor-quality/infer", json=body())
    assert r.status_code == 200, r.text
    assert re.fullmatch(r"[0-9a-f]{12}-\d+", r.headers["x-request-id"]), r.headers["x-request-id"]
    mine = httpx.post(
        f"{centre.url}/v2/models/reactor-quality/infer",
        json=body(),
        headers={**centre.headers("lubei-chem"), "X-Request-ID": "trace-42"},
    )
    assert mine.headers["x-request-id"] == "trace-42"


def test_content_type_is_not_needed_and_nested_data_works(centre: Centre) -> None:
    raw = json.dumps(body(model_name="reactor-quality")).encode()
    r = httpx.post(
        f"{centre.url}/v2/models/reactor-quality/infer",
        content=raw,
        headers={**centre.headers("lubei-chem"), "Content-Type": ""},
    )
    assert r.status_code == 200, r.text


def test_formula_components_are_served(centre: Centre) -> None:
    r = post(
        centre,
        "/v2/models/sum-formula/infer",
        who="shantui",
        json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == [12.0, 30.0]


def test_components_kept_in_torch_are_served(centre: Centre) -> None:
    import torch

    from tests.integration.deploy.centre.conftest import torch_refiner

    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    payload = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 4], "data": x.ravel().tolist()}]}
    r = post(centre, "/v2/models/reactor-refiner/infer", json=payload)
    assert r.status_code == 200, r.text
    with torch.no_grad():
        expected = torch_refiner()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(r.json()["outputs"][0]["data"]).reshape(3, 1), expected, rtol=1e-6)
    meta = httpx.get(f"{centre.url}/v2/models/reactor-refiner", headers=centre.headers("lubei-chem")).json()
    assert meta["platform"] == "pytorch_safetensors"
    assert post(centre, "/v2/models/reactor-refiner/infer", who="shantui", json=payload).status_code == 404


def test_rows_api_for_people_who_do_not_speak_oip(centre: Centre) -> None:
    r = post(centre, "/api/v1/components/reactor-quality:predict", json={"rows": X})
    assert r.status_code == 200, r.text
    rows = r.json()["outputs"]
    assert len(rows) == 2
    assert rows[1]["y"][0] == pytest.approx(float(expected(1)[1, 0]), rel=1e-5)
    bad = post(centre, "/api/v1/components/reactor-quality:predict", json={"rows": [[1, 2]]})
    assert bad.status_code == 400 and "card says [-1, 4]" in bad.json()["error"]


def test_tritonclient_with_its_defaults(centre: Centre) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(centre.url.removeprefix("http://"))
    headers = centre.headers("lubei-chem")
    assert client.is_server_live(headers=headers)
    x = np.asarray(X, np.float32)
    inp = triton.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)  # binary by default
    result = client.infer(
        "reactor-quality", [inp], headers=headers, outputs=[triton.InferRequestedOutput("y")]
    )  # binary output by default
    np.testing.assert_allclose(result.as_numpy("y"), expected(1), rtol=1e-5)
    client.close()


#: KServe's client, run in a process of its own: kserve and tritonclient.grpc both put the messages of
#: `inference.GRPCInferenceService` into protobuf's default pool under different file names, so one
#: process can import only one of them ("duplicate symbol 'inference.ServerLiveRequest'"), and the
#: gRPC tests use tritonclient's.
KSERVE_CALL = """
import asyncio, json, sys
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

async def call():
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    x = np.asarray(json.loads(sys.argv[3]), np.float32)
    inp = InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=False)
    request = InferRequest(model_name="reactor-quality", infer_inputs=[inp])
    try:
        response = await client.infer(
            sys.argv[1], request, model_name="reactor-quality", headers={"Authorization": sys.argv[2]}
        )
    finally:
        await client.close()
    return response.outputs[0].as_numpy()

print(json.dumps(np.asarray(asyncio.run(call())).tolist()))
"""


def test_kserve_rest_client_protocol_v2(centre: Centre) -> None:
    authorization = centre.headers("lubei-chem")["Authorization"]
    out = subprocess.run(
        [sys.executable, "-c", KSERVE_CALL, centre.url, authorization, json.dumps(X)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer = np.asarray(json.loads(out.stdout.strip().splitlines()[-1]), np.float32)
    np.testing.assert_allclose(answer.reshape(2, 1), expected(1), rtol=1e-5)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(centre: Centre) -> None:
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-H",
            f"Authorization: Bearer {centre.keys['lubei-chem']}",
            "-d",
            json.dumps(body()),
            f"{centre.url}/v2/models/reactor-quality/infer",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout)["outputs"][0]["shape"] == [2, 1]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (
            json.dumps(
                {"inputs": [{"name": "z", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}
            ),
            "'z' is not an input",
        ),
        (
            json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}),
            "expects [-1, 4]",
        ),
        (
            json.dumps(
                {"inputs": [{"name": "x", "datatype": "INT64", "shape": [1, 4], "data": [1, 2, 3, 4]}]}
            ),
            "FP32",
        ),
        (
            json.dumps(
                {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 4], "data": [1, 2, 3, 4]}]}
            ),
            "8",
        ),
        (
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, NaN, 3, 4]}]}',
            "NaN, infinite",
        ),
        (json.dumps({"outputs": []}), "needs a non-empty 'inputs' list"),
    ],
)
def test_bad_requests_get_400_with_a_reason(centre: Centre, payload: str | bytes, fragment: str) -> None:
    r = post(centre, "/v2/models/reactor-quality/infer", content=payload)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]
    assert "Traceback" not in r.text


def test_401_without_or_with_a_bad_key(centre: Centre) -> None:
    none = post(centre, "/v2/models/reactor-quality/infer", who=None, json=body())
    assert none.status_code == 401 and "no API key" in none.json()["error"]
    assert none.headers["www-authenticate"].startswith("Bearer")
    bad = httpx.post(
        f"{centre.url}/v2/models/reactor-quality/infer",
        json=body(),
        headers={"Authorization": "Bearer ibk_00000000_nope"},
    )
    assert bad.status_code == 401 and "not recognised" in bad.json()["error"]


def test_403_for_the_wrong_role(centre: Centre) -> None:
    r = httpx.get(
        f"{centre.url}/api/v1/usage",
        params={"month": "2026-11", "tenant": "shantui"},
        headers=centre.headers("lubei-chem"),
    )
    assert r.status_code == 403 and "may not read usage" in r.json()["error"]


def test_404_for_unknown_and_for_invisible_look_the_same(centre: Centre) -> None:
    unknown = post(centre, "/v2/models/no-such-thing/infer", who="shantui", json=body())
    private = post(centre, "/v2/models/reactor-quality/infer", who="shantui", json=body())
    assert unknown.status_code == private.status_code == 404
    assert unknown.json()["error"].replace("no-such-thing", "X") == private.json()["error"].replace(
        "reactor-quality", "X"
    )
    meta = httpx.get(f"{centre.url}/v2/models/reactor-quality", headers=centre.headers("shantui"))
    assert meta.status_code == 404
    # industry visibility: the equipment enterprise sees weichai's bearing model, the chemicals one does not
    assert post(centre, "/v2/models/bearing-health/infer", who="shantui", json=body()).status_code == 200
    assert post(centre, "/v2/models/bearing-health/infer", who="lubei-chem", json=body()).status_code == 404
    catalogue = httpx.get(f"{centre.url}/api/v1/components", headers=centre.headers("shantui")).json()
    assert [i["name"] for i in catalogue["items"]] == ["bearing-health", "retired-model", "sum-formula"]
    assert post(centre, "/v2/models/reactor-quality/versions/7/infer", json=body()).status_code == 404


def test_413_for_a_body_over_the_limit(centre: Centre) -> None:
    big = body(x=[[1.0, 2.0, 3.0, 4.0]] * 10_000)
    r = post(centre, "/v2/models/reactor-quality/infer", json=big)
    assert r.status_code == 413 and "over the limit of 100000 bytes" in r.json()["error"]


def test_429_rate_limit_with_retry_after(centre: Centre) -> None:
    codes = [
        post(
            centre,
            "/v2/models/sum-formula/infer",
            who="tight",
            json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}]},
        )
        for _ in range(4)
    ]
    statuses = [r.status_code for r in codes]
    assert statuses[:2] == [200, 200] and 429 in statuses[2:]
    limited = next(r for r in codes if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and "over its request rate" in limited.json()["error"]


def test_429_monthly_quota(centre: Centre) -> None:
    payload = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}]}
    statuses = [
        post(centre, "/v2/models/sum-formula/infer", who="quota", json=payload).status_code for _ in range(5)
    ]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    r = post(centre, "/v2/models/sum-formula/infer", who="quota", json=payload)
    assert "of its 3 calls" in r.json()["error"] and int(r.headers["retry-after"]) > 0


def test_503_for_a_component_with_no_servable_version(centre: Centre) -> None:
    r = post(centre, "/v2/models/retired-model/infer", who="shantui", json=body())
    assert r.status_code == 503 and "not ready" in r.json()["error"]
    assert "retry-after" in r.headers


def test_canary_split_between_two_versions(centre: Centre) -> None:
    centre.registry.set_canary("reactor-quality", 2, 50)
    try:
        deadline = time.monotonic() + 15
        seen: Counter[str] = Counter()
        while time.monotonic() < deadline and len(seen) < 2:  # routes refresh within a few seconds
            seen[post(centre, "/v2/models/reactor-quality/infer", json=body()).json()["model_version"]] += 1
        seen.clear()
        for _ in range(200):
            seen[post(centre, "/v2/models/reactor-quality/infer", json=body()).json()["model_version"]] += 1
        assert set(seen) == {"1", "2"}
        assert 0.3 < seen["2"] / 200 < 0.7  # 50% ± 5.6 standard deviations
    finally:
        centre.registry.clear_canary("reactor-quality")


def test_usage_is_metered_and_reported(centre: Centre) -> None:
    for _ in range(3):
        post(
            centre,
            "/v2/models/sum-formula/infer",
            who="shantui",
            json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]},
        )
    deadline = time.monotonic() + 20
    line = None
    while time.monotonic() < deadline:
        report = httpx.get(
            f"{centre.url}/api/v1/usage", params={"month": _cst_month()}, headers=centre.headers("shantui")
        ).json()
        line = next((u for u in report["lines"] if u["component"] == "sum-formula"), None)
        if line and line["calls"] >= 3:
            break
        time.sleep(0.3)
    assert line is not None and line["calls"] >= 3 and line["rows"] >= 6, line
    assert all(u["tenant"] == "shantui" for u in report["lines"])  # a consumer sees only its own tenant


def _cst_month() -> str:
    # Usage days and months are China Standard Time (UTC+8).
    return (utcnow() + timedelta(hours=8)).strftime("%Y-%m")


def test_metrics_are_exposed(centre: Centre) -> None:
    post(centre, "/v2/models/reactor-quality/infer", json=body())
    assert httpx.get(f"{centre.url}/metrics").status_code == 401
    assert httpx.get(f"{centre.url}/metrics", headers=centre.headers("lubei-ops")).status_code == 403
    text = httpx.get(f"{centre.url}/metrics", headers=centre.headers("operator")).text
    assert 'brain_requests_total{component="reactor-quality"' in text
    assert "brain_model_load_seconds" in text and "brain_resident_models" in text


def test_dynamic_batching_merges_concurrent_calls_of_one_component(centre: Centre) -> None:
    import asyncio
    import re

    from model_hub import ServingPolicy

    centre.registry.set_serving("bearing-health", ServingPolicy(max_batch_size=64, batch_wait_ms=20))
    rows = [[[float(i), 1.0, 2.0, 3.0]] for i in range(16)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=centre.url, headers=centre.headers("bulk"), timeout=30) as c:
            return await asyncio.gather(
                *(c.post("/v2/models/bearing-health/infer", json=body(x)) for x in rows)
            )

    def merged_calls() -> tuple[float, float]:
        text = httpx.get(f"{centre.url}/metrics", headers=centre.headers("operator")).text
        found = {
            m.group(1): float(m.group(2))
            for m in re.finditer(
                r'brain_batch_requests_(sum|count)\{component="bearing-health"\} (\S+)', text
            )
        }
        return found.get("sum", 0.0), found.get("count", 0.0)

    try:
        deadline = time.monotonic() + 30
        merged = False
        while time.monotonic() < deadline and not merged:  # the policy reaches replicas with the route
            responses = asyncio.run(burst())
            for x, r in zip(rows, responses, strict=True):
                assert r.status_code == 200, r.text
                np.testing.assert_allclose(
                    r.json()["outputs"][0]["data"], expected(3, x).reshape(-1), rtol=1e-5
                )
            total, calls = merged_calls()
            merged = calls > 0 and total > calls  # some model call answered more than one request
        assert merged, "no model call merged concurrent requests"
    finally:
        centre.registry.set_serving("bearing-health", ServingPolicy())


def _serve_apps(centre: Centre) -> dict[str, dict[str, object]]:
    """Serve's applications as its dashboard API reports them."""
    # The runner starts Ray with token auth and the platform's own token file (deploy/embedded/network.py).
    token = (centre.home / "run" / "ray_auth_token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{centre.dashboard}/api/serve/applications/", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    found = r.json()
    return dict(found.get("applications") or {})


def _replicas(app: dict[str, object]) -> int:
    """Replicas in any state (starting, running, stopping): zero means none could answer."""
    deployments = app.get("deployments") or {}
    assert isinstance(deployments, dict)
    return sum(len(d.get("replicas", [])) for d in deployments.values())


def _wait(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


@pytest.mark.slow
def test_a_dedicated_component_gets_its_own_autoscaled_deployment_down_to_zero(centre: Centre) -> None:
    from model_hub import ServingPolicy

    app_name = "component-sum-formula"
    payload = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}]}
    policy = ServingPolicy(dedicated=True, min_replicas=0, max_replicas=2, downscale_delay_s=2)
    centre.registry.set_serving("sum-formula", policy)
    try:
        _wait(
            "the dedicated application",
            lambda: _serve_apps(centre).get(app_name, {}).get("status") == "RUNNING",
        )
        app = _serve_apps(centre)[app_name]
        assert app["route_prefix"] == "/v2/models/sum-formula"
        r = post(centre, "/v2/models/sum-formula/infer", who="shantui", json=payload)
        assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [12.0]
        meta = httpx.get(f"{centre.url}/v2/models/sum-formula", headers=centre.headers("shantui"))
        assert meta.status_code == 200 and meta.json()["name"] == "sum-formula"
        # The same rules in its own replicas: no key, no answer.
        assert post(centre, "/v2/models/sum-formula/infer", who=None, json=payload).status_code == 401

        # Quiet for the downscale delay: no replica at all; the next call brings one back and is
        # answered (it waits for the replica to start).
        _wait("scale to zero", lambda: _replicas(_serve_apps(centre)[app_name]) == 0)
        r = post(centre, "/v2/models/sum-formula/infer", who="shantui", json=payload)
        assert r.status_code == 200, r.text
    finally:
        centre.registry.set_serving("sum-formula", ServingPolicy())
    _wait("the dedicated application to go", lambda: app_name not in _serve_apps(centre))
    r = post(centre, "/v2/models/sum-formula/infer", who="shantui", json=payload)
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [12.0]
