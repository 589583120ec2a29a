"""The serving side of the trust boundary, over real HTTP: each limit answers its status and message
(never 500), and a refused call is still metered, under the fixed label when it named no component."""

from __future__ import annotations

import struct

import httpx
import numpy as np
import pytest

from deploy.centre import oip
from deploy.centre.inference import UNKNOWN
from tests.security.conftest import Server, error_of

X = {"x": np.ones((2, 4), dtype=np.float32)}


def infer_body(inputs: dict[str, np.ndarray] = X) -> bytes:
    return oip.encode_request(inputs).body


def calls_of(server: Server, tenant: str, component: str) -> tuple[int, int]:
    """(calls, errors) the meter holds for ``tenant`` and ``component`` (all versions)."""
    counts = [
        c for k, c in server.centre.meter._counts.items() if (k.tenant, k.component) == (tenant, component)
    ]
    return sum(c.calls for c in counts), sum(c.errors for c in counts)


# --- /metrics -------------------------------------------------------------------------------------


def test_metrics_without_a_key_is_401(server: Server, client: httpx.Client) -> None:
    response = client.get("/metrics", headers=server.headers(None, "10.0.1.1"))
    assert response.status_code == 401 and "no API key" in error_of(response)
    assert "brain_requests" not in response.text


@pytest.mark.parametrize("who", ["consumer", "admin", "ops", "operator-consumer"])
def test_metrics_with_a_key_that_is_not_an_operators_is_403(
    server: Server, client: httpx.Client, who: str
) -> None:
    response = client.get("/metrics", headers=server.headers(who, "10.0.1.2"))
    assert response.status_code == 403
    assert "only the platform's operators" in error_of(response)


@pytest.mark.parametrize("who", ["operator", "operator-ops"])
def test_metrics_with_an_operator_key(server: Server, client: httpx.Client, who: str) -> None:
    client.post("/v2/models/sum-formula/infer", content=b"{}", headers=server.headers("consumer", "10.0.1.3"))
    response = client.get("/metrics", headers=server.headers(who, "10.0.1.3"))
    assert response.status_code == 200 and 'component="sum-formula"' in response.text


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a:b", "with%2Fslash", "x" * 65, "Upper-Case", "é-accent", "ab", "-dash"],
    ids=["colon", "slash", "65-chars", "upper", "non-ascii", "too-short", "leading-dash"],
)
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/v2/models/{}/infer"),
        ("POST", "/v2/models/{}/versions/1/infer"),
        ("GET", "/v2/models/{}"),
        ("GET", "/v2/models/{}/versions/1"),
        ("GET", "/v2/models/{}/ready"),
        ("GET", "/v2/models/{}/versions/1/ready"),
        ("POST", "/api/v1/components/{}:predict"),
    ],
)
def test_a_name_no_component_can_have_is_404_and_metered_as_unknown(
    server: Server, client: httpx.Client, name: str, method: str, path: str
) -> None:
    before = calls_of(server, "lubei-chem", UNKNOWN)
    body = infer_body() if "infer" in path else b'{"rows": [[1, 2, 3]]}'
    response = client.request(
        method, path.format(name), content=body, headers=server.headers("consumer", "10.0.2.1")
    )
    assert response.status_code == 404, response.text
    message = error_of(response)
    if "%2F" not in name:  # Starlette decodes %2F, so that one matches no route at all
        assert "was not found" in message
        assert "lower-case letters, digits" in message or "GET /api/v1/components" in message
    if ("infer" in path or "predict" in path) and "%2F" not in name:
        calls, errors = calls_of(server, "lubei-chem", UNKNOWN)
        assert (calls - before[0], errors - before[1]) == (1, 1)
    assert name not in {k.component for k in server.centre.meter._counts}


def test_unknown_names_never_become_label_children(server: Server, client: httpx.Client) -> None:
    for i in range(50):
        client.post(
            f"/v2/models/nothing-{i:03d}/infer",
            content=infer_body(),
            headers=server.headers("consumer", "10.0.2.2"),
        )
    components = {key[0] for key in server.centre.metrics._series}
    assert not any(c.startswith("nothing-") for c in components)
    assert UNKNOWN in components


def test_a_removed_components_children_are_dropped(server: Server, client: httpx.Client) -> None:
    centre = server.centre
    centre.metrics.series("gone-model", "1", "lubei-chem", 200).requests.inc()
    centre.metrics.rows.labels("gone-model").observe(1)
    before = {**centre._components, "gone-model": centre._components["sum-formula"]}
    centre._forget_removed(before, centre._components)  # what a route refresh does when it is gone
    text = client.get("/metrics", headers=server.headers("operator", "10.0.2.3")).text
    assert "gone-model" not in text and all(k[0] != "gone-model" for k in centre.metrics._series)


@pytest.mark.parametrize("version", ["0", "-1", "latest", "²", "9" * 40, "1" * 10])
def test_a_bad_version_is_400(server: Server, client: httpx.Client, version: str) -> None:
    for method, path in [("POST", "infer"), ("GET", "ready"), ("GET", "")]:
        url = f"/v2/models/sum-formula/versions/{version}" + (f"/{path}" if path else "")
        response = client.request(
            method, url, content=infer_body(), headers=server.headers("consumer", "10.0.2.4")
        )
        assert response.status_code == 400, (url, response.text)
        assert "must be a positive integer" in error_of(response)


# --- caps -----------------------------------------------------------------------------------------


def refused(server: Server, client: httpx.Client, body: bytes, length: int | None = None) -> str:
    before = calls_of(server, "lubei-chem", "sum-formula")
    headers = server.headers("consumer", "10.0.3.1")
    if length is not None:
        headers["Inference-Header-Content-Length"] = str(length)
    response = client.post("/v2/models/sum-formula/infer", content=body, headers=headers)
    assert response.status_code == 400, response.text
    calls, errors = calls_of(server, "lubei-chem", "sum-formula")
    assert (calls - before[0], errors - before[1]) == (1, 1)  # refused, and still metered
    return error_of(response)


def binary_body(tensors: list[tuple[str, str, list[int], bytes]]) -> tuple[bytes, int]:
    inputs = [
        {"name": n, "datatype": d, "shape": s, "parameters": {"binary_data_size": len(raw)}}
        for n, d, s, raw in tensors
    ]
    head = oip.orjson.dumps({"inputs": inputs})
    return head + b"".join(raw for *_, raw in tensors), len(head)


def test_tensor_elements_over_the_cap_are_400_naming_it(server: Server, client: httpx.Client) -> None:
    rows = 100_000 // 3 + 1
    message = refused(server, client, infer_body({"x": np.zeros((rows, 3))}))
    assert "over the cap of 1000 rows" in message or "100000 tensor elements" in message
    body, length = binary_body([("x", "FP64", [300, 1000], bytes(8 * 300_000))])
    message = refused(server, client, body, length)
    assert "300000 elements, over the cap of 100000 tensor elements" in message
    assert "BRAIN_MAX_TENSOR_ELEMENTS" in message


def test_rows_over_the_cap_are_400_naming_it(server: Server, client: httpx.Client) -> None:
    message = refused(server, client, infer_body({"x": np.zeros((1001, 3))}))
    assert "1001 rows, over the cap of 1000 rows" in message and "BRAIN_MAX_ROWS" in message
    response = client.post(
        "/api/v1/components/sum-formula:predict",
        json={"rows": [[1, 2, 3]] * 1001},
        headers=server.headers("consumer", "10.0.3.2"),
    )
    assert response.status_code == 400 and "over the cap of 1000 rows" in error_of(response)


def test_bytes_elements_over_the_cap_are_400_naming_it(server: Server, client: httpx.Client) -> None:
    # 1 MiB of empty binary BYTES elements: 262,144 of them, refused from the shape.
    empty = struct.pack("<I", 0) * 262_144
    body, length = binary_body([("x", "BYTES", [262_144], empty)])
    message = refused(server, client, body, length)
    assert "over the cap of 1000 BYTES elements" in message and "BRAIN_MAX_BYTES_ELEMENTS" in message
    # The same data under a small shape: refused at the first element past the shape.
    body, length = binary_body([("x", "BYTES", [2, 3], empty)])
    assert "holds 7 elements or more" in refused(server, client, body, length)
    # JSON strings: refused before the body is parsed.
    body = b'{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":[' + b'"",' * 200_000 + b'""]}]}'
    assert "over the cap of 1000 BYTES elements" in refused(server, client, body)


# --- readiness and metadata -------------------------------------------------------------------------


def test_ready_and_metadata_are_admitted(server: Server, client: httpx.Client) -> None:
    no_key = client.get("/v2/models/sum-formula/ready", headers=server.headers(None, "10.0.4.1"))
    assert no_key.status_code == 401
    ok = client.get("/v2/models/sum-formula/versions/1/ready", headers=server.headers("consumer", "10.0.4.1"))
    assert ok.status_code == 200 and ok.json() == {"name": "sum-formula", "ready": True}
    meta = client.get("/v2/models/sum-formula/versions/1", headers=server.headers("consumer", "10.0.4.1"))
    assert meta.status_code == 200 and meta.json()["inputs"][0]["name"] == "x"
    invisible = client.get("/v2/models/reactor-quality/ready", headers=server.headers("operator", "10.0.4.1"))
    assert invisible.status_code in (200, 404)  # the operator's industries decide; never 500


def test_ready_is_rate_limited_like_infer(server: Server, client: httpx.Client) -> None:
    from deploy.tenancy import RateLimits

    centre = server.centre
    saved = centre.limits
    centre.limits = RateLimits(0.001, 1)
    try:
        headers = server.headers("consumer", "10.0.4.2")
        first = client.get("/v2/models/sum-formula/ready", headers=headers)
        second = client.get("/v2/models/sum-formula/ready", headers=headers)
    finally:
        centre.limits = saved
    assert first.status_code == 200
    assert second.status_code == 429 and "Retry-After" in second.headers
    assert "over its request rate" in error_of(second)


def refused_count(text: str, tenant: str, reason: str) -> float:
    """The value of brain_refused_requests_total for ``tenant`` and ``reason`` in a /metrics page."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "brain_refused_requests_total" and sample.labels == {
                "tenant": tenant,
                "reason": reason,
            }:
                return float(sample.value)
    return 0.0


def test_refusals_for_rate_and_quota_are_counted_per_tenant(server: Server, client: httpx.Client) -> None:
    """Calls refused for the rate or the monthly quota are not usage (nothing was served); operators see
    them per tenant and reason on /metrics."""
    from deploy.tenancy import RateLimits, Role, TenantSpec

    centre = server.centre
    page = client.get("/metrics", headers=server.headers("operator", "10.0.4.4")).text
    rate_before = refused_count(page, "lubei-chem", "rate")
    saved = centre.limits
    centre.limits = RateLimits(0.001, 1)
    try:
        headers = server.headers("consumer", "10.0.4.5")
        statuses = [client.get("/v2/models/sum-formula/ready", headers=headers).status_code for _ in range(3)]
    finally:
        centre.limits = saved
    assert statuses == [200, 429, 429]

    spec = TenantSpec(
        name="quota-one",
        display="one call a month",
        kind="enterprise",
        industries=["high-end-chemicals"],
        city="jinan",
        monthly_quota=1,
    )
    centre.tenants.create_tenant(spec, actor="tests")
    key = centre.tenants.issue_key("quota-one", Role.consumer, "tests").secret
    body = oip.encode_request({"x": np.ones((1, 3))}).body
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "10.0.4.6"}
    answers = [client.post("/v2/models/sum-formula/infer", content=body, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429], answers[-1].text
    assert "of its 1 calls" in error_of(answers[1])

    page = client.get("/metrics", headers=server.headers("operator", "10.0.4.4")).text
    assert refused_count(page, "lubei-chem", "rate") == rate_before + 2
    assert refused_count(page, "quota-one", "quota") == 1.0
    assert refused_count(page, "quota-one", "rate") == 0.0  # a quota refusal is not also a rate one


# --- keys -----------------------------------------------------------------------------------------


def test_failed_authentications_are_limited_per_address(server: Server, client: httpx.Client) -> None:
    fake = [f"ibk_{i:08x}_{'0' * 40}" for i in range(8)]
    answers = [
        client.post(
            "/v2/models/sum-formula/infer", content=infer_body(), headers=server.headers(k, "10.0.5.1")
        )
        for k in fake
    ]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert "failed authentications from this address" in error_of(answers[-1])
    assert "BRAIN_FAILED_AUTH_LIMIT" in error_of(answers[-1])
    # Another address is not affected, and a verified key still works from the locked one.
    other = client.post(
        "/v2/models/sum-formula/infer", content=infer_body(), headers=server.headers(fake[0], "10.0.5.2")
    )
    assert other.status_code == 401
    client.post(
        "/v2/models/sum-formula/infer", content=infer_body(), headers=server.headers("consumer", "10.0.5.3")
    )
    good = client.get("/v2/models/sum-formula/ready", headers=server.headers("consumer", "10.0.5.1"))
    assert good.status_code == 200


def test_unknown_keys_are_refused_from_memory(server: Server, client: httpx.Client) -> None:
    fake = "ibk_deadbeef_" + "1" * 40
    queries: list[str] = []
    from sqlalchemy import event

    engine = server.centre.tenants.engine

    def count(*args: object) -> None:
        queries.append("q")

    event.listen(engine, "before_cursor_execute", count)
    try:
        for i in range(4):
            response = client.get("/v2/models/sum-formula/ready", headers=server.headers(fake, f"10.0.6.{i}"))
            assert response.status_code == 401 and "not recognised" in error_of(response)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(queries) == 1


# --- the catalogue ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params,message",
    [
        ({"page": "9" * 39}, "page"),  # reached SQLite as a 39-digit number: 500 before
        ({"page": "0"}, "page"),
        ({"page_size": "101"}, "page_size"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_catalogue_paging_is_bounded(
    server: Server, client: httpx.Client, params: dict[str, str], message: str
) -> None:
    response = client.get("/api/v1/components", params=params, headers=server.headers("consumer", "10.0.7.1"))
    assert response.status_code == 400 and f"query.{message}" in error_of(response)
