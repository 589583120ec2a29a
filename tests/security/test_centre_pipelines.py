"""Pipelines (组件编排) over real HTTP on the real centre (real MLflow, real tenancy store, no Ray):
registered through the registry API by a developer's key, served at /v2/models/<pipeline>/infer,
metered per step and in total, timed on request; every refusal a clear 4xx naming what was wrong,
and a step the caller may not see answered as a missing pipeline (404)."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from deploy.centre import oip
from deploy.db import utcnow
from deploy.metering import month_of, usage_report
from model_hub.artifacts import local_folder
from tests.cards import card_data
from tests.security.conftest import Server, error_of, portal_browser
from tests.security.test_registry_api import until

X = {"name": "x", "datatype": "FP64", "shape": [-1, 3]}
Y = {"name": "y", "datatype": "FP64", "shape": [-1, 1]}
Z = {"name": "z", "datatype": "FP64", "shape": [-1, 1]}
#: The test's components: (name, formula, inputs, outputs).
PARTS = [
    ("pipe-scale", "tests.formulas:scale", [X], [Y]),
    ("pipe-spread", "tests.formulas:spread", [Y], [X]),
    ("pipe-root", "tests.formulas:root", [Y], [Z]),
    ("pipe-fragile", "tests.formulas:root", [Y], [Z]),
]


def card_json(name: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], **more: Any) -> str:
    data = card_data(name=name, kind="mechanism", inputs=inputs, outputs=outputs, **more)
    data.pop("owner")
    return json.dumps(data)


def register_part(
    client: httpx.Client,
    server: Server,
    who: str,
    name: str,
    formula: str,
    inputs: Any,
    outputs: Any,
    **card: Any,
) -> httpx.Response:
    files = [("files", ("formula.json", json.dumps({"entrypoint": formula, "parameters": {"factor": 2.0}})))]
    return client.post(
        "/api/v1/components" + (f"/{name}/versions" if card.pop("new_version", False) else ""),
        data={"card": card_json(name, inputs, outputs, **card)},
        files=files,
        headers=server.headers(who, "10.9.0.1"),
    )


def spec(name: str, **overrides: Any) -> dict[str, Any]:
    """A pipeline x → scale → spread → scale → root: y = 2·sum(x), then 2·3·y, then its root."""
    data = card_data(name=name, kind="mechanism", inputs=[X])
    for field in ("owner", "outputs"):
        data.pop(field)
    data["steps"] = [
        {"name": "first", "component": "pipe-scale", "inputs": {"x": "input.x"}},
        {"name": "spread", "component": "pipe-spread", "inputs": {"y": "first.y"}},
        {"name": "second", "component": "pipe-scale", "version": 1, "inputs": {"x": "spread.x"}},
        {"name": "root", "component": "pipe-root", "inputs": {"y": "second.y"}},
    ]
    data["outputs"] = [{"name": "total", "from": "second.y"}, {"name": "root", "from": "root.z"}]
    data.update(overrides)
    return data


def register_pipeline(
    client: httpx.Client, server: Server, who: str, data: dict[str, Any], path: str = "/api/v1/components"
) -> httpx.Response:
    return client.post(
        path,
        files=[("files", ("pipeline.json", json.dumps(data).encode()))],
        headers=server.headers(who, "10.9.0.2"),
    )


def infer(
    client: httpx.Client, server: Server, who: str, name: str, x: np.ndarray, timings: bool = False
) -> httpx.Response:
    doc = json.loads(oip.encode_request({"x": x}).body)
    if timings:
        doc["parameters"] = {"timings": True}
    # No polling: a component serves as soon as its registration returns (the centre asks the registry
    # again when memory has no active version for a name).
    return client.post(f"/v2/models/{name}/infer", json=doc, headers=server.headers(who, "10.9.0.3"))


@pytest.fixture(scope="module")
def parts(server: Server) -> Iterator[None]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for name, formula, inputs, outputs in PARTS:
            response = register_part(
                client, server, "developer", name, formula, inputs, outputs, visibility="public"
            )
            assert response.status_code == 201, response.text
        hidden = register_part(
            client,
            server,
            "other-developer",
            "pipe-hualu-secret",
            "tests.formulas:scale",
            [X],
            [Y],
            visibility="private",
        )
        assert hidden.status_code == 201, hidden.text
        created = register_pipeline(client, server, "developer", spec("pipe-chain"))
        assert created.status_code == 201, created.text
        assert created.json()["format"] == "pipeline"
    yield


def test_a_pipeline_is_served_with_the_steps_outputs(
    parts: None, client: httpx.Client, server: Server
) -> None:
    response = infer(client, server, "consumer", "pipe-chain", np.ones((2, 3)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "pipe-chain" and "parameters" not in body  # timings only when asked
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["total"]["data"] == [36.0, 36.0] and outputs["total"]["shape"] == [2, 1]
    assert outputs["root"]["data"] == [6.0, 6.0]
    # The model metadata is the pipeline's card: its inputs, its outputs derived from the steps'.
    meta = client.get("/v2/models/pipe-chain", headers=server.headers("consumer", "10.9.0.3")).json()
    assert [o["name"] for o in meta["outputs"]] == ["total", "root"]
    assert meta["platform"] == "industry_brain_pipeline"


def test_timings_come_per_step_when_asked(parts: None, client: httpx.Client, server: Server) -> None:
    response = infer(client, server, "consumer", "pipe-chain", np.ones((1, 3)), timings=True)
    assert response.status_code == 200, response.text
    timings = response.json()["parameters"]["timings_ms"]
    assert set(timings) == {"first", "spread", "second", "root", "total"}
    assert all(v >= 0 for v in timings.values())
    assert timings["total"] >= sum(v for k, v in timings.items() if k != "total")


def test_each_step_and_the_pipeline_are_metered(parts: None, client: httpx.Client, server: Server) -> None:
    admin = server.headers("admin", "10.9.0.4")

    def counts() -> dict[tuple[str, str], tuple[int, int]]:
        server.centre.meter.flush(server.centre.tenants.engine)
        lines = usage_report(server.centre.tenants.engine, month_of(utcnow()), tenant="lubei-chem")
        return {(u.component, u.version): (u.calls, u.rows) for u in lines if u.component.startswith("pipe-")}

    before = counts()
    response = client.post(
        "/v2/models/pipe-chain/infer",
        content=oip.encode_request({"x": np.ones((3, 3))}).body,
        headers=admin,
    )
    assert response.status_code == 200, response.text
    after = counts()
    grew = {k: (v[0] - before.get(k, (0, 0))[0], v[1] - before.get(k, (0, 0))[1]) for k, v in after.items()}
    grew = {k: v for k, v in grew.items() if v != (0, 0)}
    # One row for the pipeline, one per step (pipe-scale runs twice), each with the call's 3 rows.
    assert grew == {
        ("pipe-chain", "1"): (1, 3),
        ("pipe-scale", "1"): (2, 6),
        ("pipe-spread", "1"): (1, 3),
        ("pipe-root", "1"): (1, 3),
    }


def test_a_step_refusing_its_input_is_named(parts: None, client: httpx.Client, server: Server) -> None:
    response = infer(client, server, "consumer", "pipe-chain", -np.ones((1, 3)))
    assert response.status_code == 400, response.text
    assert error_of(response) == (
        "pipeline step 'root' (pipe-root version 1) failed: pipe-root: y must not be negative"
    )


def test_a_step_that_cannot_load_answers_503_naming_it(
    parts: None, client: httpx.Client, server: Server
) -> None:
    data = spec("pipe-fragile-chain")
    data["steps"][3]["component"] = "pipe-fragile"
    assert register_pipeline(client, server, "developer", data).status_code == 201
    # Its artifacts are changed behind the registry's back: the signed manifest no longer matches.
    registry = server.centre.registry
    version = registry.version("pipe-fragile", 1)
    source = local_folder(version.source)
    assert source is not None
    for folder in (source, registry.settings.home_dir / "cache" / "pipe-fragile" / "1"):
        if folder.exists():
            (folder / "formula.json").write_text('{"entrypoint": "tests.formulas:scale", "parameters": {}}')
    try:
        response = infer(client, server, "consumer", "pipe-fragile-chain", np.ones((1, 3)))
        assert response.status_code == 503, response.text
        assert error_of(response).startswith(
            "pipeline step 'root' (pipe-fragile version 1) failed: cannot load:"
        )
        assert response.headers["retry-after"] == "5"
    finally:
        shutil.rmtree(registry.settings.home_dir / "cache" / "pipe-fragile", ignore_errors=True)


def test_a_consumer_cannot_register_a_pipeline(parts: None, client: httpx.Client, server: Server) -> None:
    response = register_pipeline(client, server, "consumer", spec("pipe-consumer"))
    assert response.status_code == 403, response.text


def test_registration_refusals_name_the_edge(parts: None, client: httpx.Client, server: Server) -> None:
    data = spec("pipe-bad")
    data["steps"][2]["inputs"] = {"x": "first.y"}
    response = register_pipeline(client, server, "developer", data)
    assert response.status_code == 422, response.text
    assert "first.y -> second.x: FP64[-1,1] vs FP64[-1,3]" in error_of(response)
    # Another tenant's private component reads as unknown: nothing says it exists.
    data = spec("pipe-peek")
    data["steps"][0]["component"] = "pipe-hualu-secret"
    response = register_pipeline(client, server, "developer", data)
    assert response.status_code == 422, response.text
    assert "step 'first': no component 'pipe-hualu-secret' version production that 'lubei-chem' may use" in (
        error_of(response)
    )
    # A card field with the pipeline, and another owner, are refused.
    both = client.post(
        "/api/v1/components",
        data={"card": "{}"},
        files=[("files", ("pipeline.json", json.dumps(spec("pipe-both")).encode()))],
        headers=server.headers("developer", "10.9.0.2"),
    )
    assert both.status_code == 400 and "a pipeline's card is in pipeline.json" in error_of(both)
    foreign = register_pipeline(client, server, "developer", spec("pipe-foreign", owner="hualu-chem"))
    assert foreign.status_code == 422 and "the pipeline names owner 'hualu-chem'" in error_of(foreign)
    # Wider than a step: the hidden step is the other tenant's own, so its pipeline must stay private.
    wide = spec("pipe-wide", visibility="public")
    wide["steps"][0]["component"] = "pipe-hualu-secret"
    response = register_pipeline(client, server, "other-developer", wide)
    assert response.status_code == 422, response.text
    assert "the pipeline is public but pipe-hualu-secret is private" in error_of(response)


def test_the_catalogue_marks_a_pipeline_and_its_steps(
    parts: None, client: httpx.Client, server: Server
) -> None:
    found = client.get(
        "/api/v1/components", params={"q": "pipe-chain"}, headers=server.headers("consumer", "10.9.0.5")
    ).json()["items"]
    entry = next(e for e in found if e["name"] == "pipe-chain")
    assert entry["pipeline"] == {
        "steps": ["first: pipe-scale", "spread: pipe-spread", "second: pipe-scale", "root: pipe-root"]
    }
    scale = client.get(
        "/api/v1/components", params={"q": "pipe-scale"}, headers=server.headers("consumer", "10.9.0.5")
    ).json()["items"]
    assert all("pipeline" not in e for e in scale if e["name"] == "pipe-scale")


def test_a_step_the_caller_cannot_see_hides_the_pipeline(
    parts: None, client: httpx.Client, server: Server
) -> None:
    """The pipeline is public, but a step turns private afterwards: other tenants get the 404 of a
    missing pipeline, naming neither the step nor its component; the owner still calls it."""
    with httpx.Client(base_url=server.url, timeout=60) as own:
        for name, formula, inputs, outputs in (("pipe-narrowing", "tests.formulas:root", [Y], [Z]),):
            assert (
                register_part(
                    own, server, "developer", name, formula, inputs, outputs, visibility="public"
                ).status_code
                == 201
            )
        data = spec("pipe-narrowed", visibility="public")
        data["steps"][3]["component"] = "pipe-narrowing"
        assert register_pipeline(own, server, "developer", data).status_code == 201
        narrowed = register_part(
            own,
            server,
            "developer",
            "pipe-narrowing",
            "tests.formulas:root",
            [Y],
            [Z],
            visibility="private",
            new_version=True,
        )
        assert narrowed.status_code == 201, narrowed.text

    def answer() -> httpx.Response:
        return infer(client, server, "other-admin", "pipe-narrowed", np.ones((1, 3)))

    # Routes refresh every 2 s.
    response = until(lambda: (r := answer()).status_code == 404 and r)
    assert response, answer().text
    assert error_of(response).startswith("component 'pipe-narrowed' was not found")
    assert "pipe-narrowing" not in response.text and "root" not in response.text
    assert infer(client, server, "consumer", "pipe-narrowed", np.ones((1, 3))).status_code == 200


def test_a_pipeline_gets_new_versions_like_a_component(
    parts: None, client: httpx.Client, server: Server
) -> None:
    data = spec("pipe-versioned")
    assert register_pipeline(client, server, "developer", data).status_code == 201
    data["outputs"] = [{"name": "root", "from": "root.z"}]
    again = register_pipeline(client, server, "developer", data, "/api/v1/components/pipe-versioned/versions")
    assert again.status_code == 201 and again.json()["version"] == 2, again.text
    renamed = register_pipeline(
        client, server, "developer", spec("pipe-other"), "/api/v1/components/pipe-versioned/versions"
    )
    assert renamed.status_code == 422 and "the pipeline is 'pipe-other', not 'pipe-versioned'" in error_of(
        renamed
    )
    # Another tenant may not add versions to it (it sees it: 403).
    foreign = register_pipeline(
        client, server, "other-developer", data, "/api/v1/components/pipe-versioned/versions"
    )
    assert foreign.status_code == 403, foreign.text

    def pinned_call() -> httpx.Response:
        return client.post(
            "/v2/models/pipe-versioned/versions/2/infer",
            content=oip.encode_request({"x": np.ones((1, 3))}).body,
            headers=server.headers("consumer", "10.9.0.6"),
        )

    # Routes refresh every 2 s: version 2 is served from the next pass on.
    pinned = until(lambda: (r := pinned_call()).status_code == 200 and r) or pinned_call()
    assert pinned.status_code == 200, pinned.text
    assert [o["name"] for o in pinned.json()["outputs"]] == ["root"] and pinned.json()["model_version"] == "2"


def over_grpc(work: Callable[[str], None]) -> None:
    """Run ``work(address)`` against the centre's gRPC service (`grpc_service.InferenceService`, what
    Serve's replicas run) on a real grpc.aio server on a free loopback port, in this process: the same
    centre as the REST tests. The server's loop runs in this thread (grpc.aio's does not stop from
    another one), the client in a worker thread."""
    import asyncio

    import grpc
    from tritonclient.grpc import service_pb2_grpc

    from deploy.centre.grpc_service import InferenceService

    async def run() -> None:
        made = grpc.aio.server()
        service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceService(), made)  # type: ignore[no-untyped-call]
        port = made.add_insecure_port("127.0.0.1:0")
        await made.start()
        try:
            await asyncio.get_running_loop().run_in_executor(None, work, f"127.0.0.1:{port}")
        finally:
            await made.stop(0)

    asyncio.run(run())


def test_a_pipeline_over_grpc(parts: None, server: Server) -> None:
    """gRPC goes through the same call (`calls.InferCall`): the pipeline answers, and its failing step
    is named under INVALID_ARGUMENT."""
    import tritonclient.grpc as triton

    headers = {"authorization": f"Bearer {server.keys['consumer']}"}

    def work(address: str) -> None:
        with triton.InferenceServerClient(url=address) as grpc_client:
            tensor = triton.InferInput("x", [2, 3], "FP64")
            tensor.set_data_from_numpy(np.ones((2, 3)))
            result = grpc_client.infer("pipe-chain", [tensor], headers=headers)
            np.testing.assert_allclose(result.as_numpy("total"), [[36.0], [36.0]])
            np.testing.assert_allclose(result.as_numpy("root"), [[6.0], [6.0]])
            negative = triton.InferInput("x", [1, 3], "FP64")
            negative.set_data_from_numpy(-np.ones((1, 3)))
            with pytest.raises(triton.InferenceServerException) as caught:
                grpc_client.infer("pipe-chain", [negative], headers=headers)
            assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
            assert "pipeline step 'root' (pipe-root version 1) failed" in str(caught.value.message())

    over_grpc(work)


def test_a_deprecated_step_is_named(parts: None, client: httpx.Client, server: Server) -> None:
    """A step's component deprecated after the pipeline was registered: the pipeline answers the 410 of
    the step, named, with the replacement its owner gave."""
    assert (
        register_part(
            client, server, "developer", "pipe-retiring", "tests.formulas:root", [Y], [Z], visibility="public"
        ).status_code
        == 201
    )
    data = spec("pipe-retired-chain")
    data["steps"][3]["component"] = "pipe-retiring"
    assert register_pipeline(client, server, "developer", data).status_code == 201
    assert infer(client, server, "consumer", "pipe-retired-chain", np.ones((1, 3))).status_code == 200
    retired = client.post(
        "/api/v1/components/pipe-retiring/deprecate",
        json={"replacement": "pipe-root"},
        headers=server.headers("developer", "10.9.0.7"),
    )
    assert retired.status_code == 200, retired.text
    response = until(
        lambda: (
            (r := infer(client, server, "consumer", "pipe-retired-chain", np.ones((1, 3)))).status_code == 410
            and r
        )
    )
    assert response, "the deprecation did not reach the pipeline"
    message = error_of(response)
    assert message.startswith("pipeline step 'root' (pipe-retiring) failed:") and "pipe-root" in message


def test_the_portal_shows_a_pipeline_and_tries_it(parts: None, server: Server) -> None:
    """A pipeline's page in the portal: its card's inputs, an example request, and "try it" answering
    with both of the pipeline's outputs."""

    async def visit() -> tuple[httpx.Response, httpx.Response]:
        async with portal_browser(server, "consumer") as browser:
            page = await browser.get("/components/pipe-chain")
            session_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert session_csrf is not None, page.text
            example = re.search(r'<textarea[^>]*name="input:x"[^>]*>([^<]*)</textarea>', page.text)
            assert example is not None and example[1].strip(), "no example pre-filled for x"
            # the pre-filled example is a valid request; then one with known answers
            fields = {"csrf": session_csrf[1], "input:x": html.unescape(example[1])}
            prefilled = await browser.post("/components/pipe-chain/try", data=fields)
            assert prefilled.status_code == 200 and 'data-output="root"' in prefilled.text, prefilled.text
            tried = await browser.post(
                "/components/pipe-chain/try", data={"csrf": session_csrf[1], "input:x": "[[1, 1, 1]]"}
            )
            return page, tried

    page, tried = asyncio.run(visit())
    assert page.status_code == 200, page.text
    assert "industry_brain_pipeline" in page.text and "/v2/models/pipe-chain/infer" in page.text
    assert tried.status_code == 200, tried.text
    assert 'data-output="total"' in tried.text and 'data-output="root"' in tried.text
    assert "<td>36</td>" in tried.text and "<td>6</td>" in tried.text  # as the API answers for ones
