"""The registry API over real HTTP on the real centre (real MLflow, real tenancy store): who may change
a component (the refusal matrix), the owner set from the key, pickles refused unread, the platform's
signature checked at load, deprecated components answered 410, and every bad input a clear 4xx."""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from deploy.centre import oip
from model_hub import safety
from tests import onnx_models
from tests.cards import card_data
from tests.security.conftest import Server, error_of

FORMULA = json.dumps({"entrypoint": "tests.formulas:scale", "parameters": {"factor": 2.0}}).encode()
SCALE_IO = {
    "kind": "mechanism",
    "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 3]}],
    "outputs": [{"name": "y", "datatype": "FP64", "shape": [-1, 1]}],
}


def card_json(name: str, *, owner: str | None = None, **overrides: Any) -> str:
    data = card_data(name=name, **{**SCALE_IO, **overrides})
    data.pop("owner")
    if owner is not None:
        data["owner"] = owner
    return json.dumps(data)


def upload(
    client: httpx.Client,
    server: Server,
    who: str | None,
    card: str,
    files: list[tuple[str, bytes]],
    path: str = "/api/v1/components",
    address: str = "10.7.0.1",
) -> httpx.Response:
    return client.post(
        path,
        data={"card": card},
        files=[("files", (name, content)) for name, content in files],
        headers=server.headers(who, address),
    )


def register_formula(
    client: httpx.Client, server: Server, who: str, name: str, **card: Any
) -> dict[str, Any]:
    response = upload(client, server, who, card_json(name, **card), [("formula.json", FORMULA)])
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def infer(client: httpx.Client, server: Server, who: str, name: str) -> httpx.Response:
    body = oip.encode_request({"x": np.ones((2, 3), dtype=np.float64)}).body
    return client.post(f"/v2/models/{name}/infer", content=body, headers=server.headers(who, "10.7.0.2"))


def until(check: Any, timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something true (routes refresh every 2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def refused_for_the_signature(call: Any, timeout: float = 15.0) -> httpx.Response:
    """Call until the centre refuses with 409 naming the signature; no call may ever be served.

    A route read before the test rewrote a tag still holds the old (signed) hash for up to ROUTE_TTL_S,
    so a call in that window is refused for the hash instead (also 409, also "Refusing to load"): the
    forgery is refused either way, and the signature's own refusal follows once the route refreshes."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        response: httpx.Response = call()
        if response.status_code != 404:
            assert response.status_code == 409, response.text  # never served, never a 500
            assert "Refusing to load" in error_of(response), response.text
            if "signature" in error_of(response):
                return response
            seen.append(error_of(response)[:80])
        assert time.monotonic() < deadline, f"no refusal naming the signature; refused for: {seen[-3:]}"
        time.sleep(0.1)


# --- the refusal matrix ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def owned(server: Server) -> Iterator[None]:
    """lubei-chem's components, registered through the API by its developer: one public (other
    tenants see it), one private (they do not); each with two versions."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for name, visibility in (("matrix-public", "public"), ("matrix-private", "private")):
            register_formula(client, server, "developer", name, visibility=visibility)
            again = upload(
                client,
                server,
                "developer",
                card_json(name, visibility=visibility),
                [("formula.json", FORMULA)],
                f"/api/v1/components/{name}/versions",
            )
            assert again.status_code == 201 and again.json()["version"] == 2, again.text
    yield


#: Each change, as (method, path after the component, JSON body), and the right it needs.
CHANGES: list[tuple[str, str, Any, str]] = [
    ("POST", "promote", {"version": 1, "alias": "staging"}, "release"),
    ("POST", "rollback", {"to": 1}, "release"),
    ("POST", "deprecate", {"version": 2}, "release"),
    ("PUT", "canary", {"version": 1, "percent": 10}, "release"),
    ("DELETE", "canary", None, "release"),
    ("PUT", "serving", {"max_batch_size": 1}, "deployments"),
    ("GET", "export", None, "export"),
    ("POST", "versions", "upload", "register"),
]

#: Who holds which right on lubei-chem's components (the table of rights, and registry moderation).
HOLDERS = {
    "release": {"admin", "developer", "operator", "operator-ops"},
    "export": {"admin", "developer", "operator", "operator-ops"},
    "register": {"admin", "developer", "operator", "operator-ops"},
    "deployments": {"admin", "ops", "operator", "operator-ops"},
}
CALLERS = [
    "consumer",
    "ops",
    "developer",
    "admin",
    "other-admin",
    "other-developer",
    "operator",
    "operator-ops",
    "operator-consumer",
]


#: The roles that hold each right for their own tenant (deploy/tenancy/rights.py).
OWN = {
    "release": {"admin", "developer"},
    "export": {"admin", "developer"},
    "register": {"admin", "developer"},
    "deployments": {"admin", "ops"},
}


def expected(who: str, right: str, visibility: str) -> int:
    if who in HOLDERS[right]:
        return 201 if right == "register" else 200
    if who.startswith("other-") and who.removeprefix("other-") in OWN[right] and visibility == "private":
        return 404  # another tenant's private component answers as a missing one
    return 403  # the role lacks the right, or the component is visible but another tenant's


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("who", CALLERS)
def test_only_the_owner_tenants_roles_and_operators_change_a_component(
    server: Server, client: httpx.Client, owned: None, who: str, visibility: str
) -> None:
    name = f"matrix-{visibility}"
    answered = {}
    for method, what, body, right in CHANGES:
        path = f"/api/v1/components/{name}/{what}"
        if body == "upload":
            response = upload(
                client, server, who, card_json(name, visibility=visibility), [("formula.json", FORMULA)], path
            )
        else:
            response = client.request(method, path, json=body, headers=server.headers(who, "10.7.1.1"))
        answered[f"{method} {what}"] = response.status_code
        want = expected(who, right, visibility)
        assert response.status_code == want, (who, method, what, response.text)
        if want in (403, 404):
            message = error_of(response)
            assert "may not" in message or "belongs to tenant" in message or "was not found" in message
    print(who, visibility, answered)


def test_without_a_key_every_registry_route_is_401(server: Server, client: httpx.Client, owned: None) -> None:
    for method, what, body, _ in CHANGES:
        response = client.request(
            method,
            f"/api/v1/components/matrix-public/{what}",
            json=None if body == "upload" else body,
            headers=server.headers(None, "10.7.1.2"),
        )
        assert response.status_code == 401, (method, what, response.text)
    server.centre.keys._failures.clear()


def test_show_follows_visibility(server: Server, client: httpx.Client, owned: None) -> None:
    shown = client.get("/api/v1/components/matrix-public", headers=server.headers("other-admin", "10.7.1.3"))
    assert shown.status_code == 200
    body = shown.json()
    assert body["card"]["owner"] == "lubei-chem" and [v["version"] for v in body["versions"]][:2] == [1, 2]
    assert all("source" not in v for v in body["versions"])  # artifact URIs are the platform's business
    hidden = client.get(
        "/api/v1/components/matrix-private", headers=server.headers("other-admin", "10.7.1.3")
    )
    assert hidden.status_code == 404
    missing = client.get(
        "/api/v1/components/matrix-nothing", headers=server.headers("other-admin", "10.7.1.3")
    )
    assert missing.status_code == 404 and error_of(missing) == error_of(hidden).replace("private", "nothing")


# --- the owner is the key's tenant --------------------------------------------------------------


def test_the_owner_is_the_tenant_of_the_key_never_the_cards_text(
    server: Server, client: httpx.Client
) -> None:
    refused = upload(
        client,
        server,
        "other-developer",
        card_json("owner-forged", owner="lubei-chem"),
        [("formula.json", FORMULA)],
    )
    assert refused.status_code == 422
    assert "a component's owner is the tenant of the key" in error_of(refused)
    created = register_formula(client, server, "other-developer", "owner-set")
    assert created["name"] == "owner-set"
    shown = client.get("/api/v1/components/owner-set", headers=server.headers("other-developer", "10.7.2.1"))
    assert shown.json()["card"]["owner"] == "hualu-chem"
    # A name another tenant holds cannot be taken over by registering it again.
    taken = upload(client, server, "developer", card_json("owner-set"), [("formula.json", FORMULA)])
    assert taken.status_code == 409, taken.text


def test_a_consumer_cannot_register(server: Server, client: httpx.Client) -> None:
    refused = upload(client, server, "consumer", card_json("consumer-try"), [("formula.json", FORMULA)])
    assert refused.status_code == 403 and "may not register components" in error_of(refused)


def test_formats_register_and_serve(server: Server, client: httpx.Client) -> None:
    """ONNX and a torch module (JSON + safetensors), uploaded and then served."""
    onnx_bytes = onnx_models.linear().SerializeToString()
    response = upload(
        client,
        server,
        "developer",
        json.dumps({**card_data(name="uploaded-onnx"), "owner": "lubei-chem"}),
        [("model.onnx", onnx_bytes)],
    )
    assert response.status_code == 201 and response.json()["format"] == "onnx", response.text
    called = until(
        lambda: (
            (
                r := client.post(
                    "/v2/models/uploaded-onnx/infer",
                    content=oip.encode_request({"x": np.ones((2, 4), dtype=np.float32)}).body,
                    headers=server.headers("developer", "10.7.2.2"),
                )
            ).status_code
            == 200
            and r
        )
    )
    assert called, "the uploaded ONNX component was not served"


def test_a_component_serves_as_soon_as_it_is_registered(server: Server, client: httpx.Client) -> None:
    """A name called before it existed is remembered as unknown until the next route refresh (2 s); a
    call right after its registration must not be answered from that memory (it was: 404, or 503 "no
    active version" when the refresher had read it between its creation and its first version)."""
    before = infer(client, server, "developer", "registered-just-now")
    assert before.status_code == 404, before.text
    register_formula(client, server, "developer", "registered-just-now")
    after = infer(client, server, "developer", "registered-just-now")  # at once: no polling
    assert after.status_code == 200, after.text
    again = infer(client, server, "developer", "never-registered")
    assert again.status_code == 404 and "never-registered" in error_of(again)


# --- pickles are refused, never loaded -------------------------------------------------------------


class _Marker:
    """Unpickling this creates a file: the proof that a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize(
    "file_name", ["model.pkl", "model.joblib", "model.onnx", "weights.safetensors", "formula.json"]
)
def test_a_pickle_is_refused_without_being_loaded(
    server: Server, client: httpx.Client, tmp_path: Path, file_name: str
) -> None:
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_Marker(marker), protocol=4)
    assert safety.looks_like_pickle(payload[:4])
    name = f"pickled-{file_name.replace('.', '-')}"
    response = upload(
        client, server, "developer", card_json(name, visibility="private"), [(file_name, payload)]
    )
    assert response.status_code == 422, response.text
    assert "pickle-based" in error_of(response) and "refused without being loaded" in error_of(response)
    assert not marker.exists()
    assert (
        client.get(f"/api/v1/components/{name}", headers=server.headers("developer", "10.7.3.1")).status_code
        == 404
    )


# --- the platform's signature ---------------------------------------------------------------------


def test_a_swapped_artifact_with_a_rewritten_hash_is_refused_at_load(
    server: Server, client: httpx.Client
) -> None:
    """Someone with write access to MLflow replaces the model and rewrites its sha256 tag to match:
    the centre refuses to load it (409, naming the signature), and never serves the swapped model."""
    created = register_formula(client, server, "developer", "swap-target", visibility="public")
    registry = server.centre.registry
    version = registry.version("swap-target", 1)
    folder = Path(version.source.removeprefix("file://"))
    forged_formula = json.dumps({"entrypoint": "tests.formulas:scale", "parameters": {"factor": 1000.0}})
    (folder / "formula.json").write_text(forged_formula, encoding="utf-8")
    forged = safety.write_manifest(folder)
    registry.client.set_model_version_tag(
        "swap-target", str(created["version"]), "brain.manifest_sha256", forged
    )
    refused_for_the_signature(lambda: infer(client, server, "consumer", "swap-target"))


def test_version_1_copied_onto_version_3_is_refused_at_load(server: Server, client: httpx.Client) -> None:
    """A silent rollback: someone with write access to MLflow (not the registry key) copies version 1's
    artifacts and its hash and signature tags onto version 3. The signature binds the version number, so
    the centre answers 409 for version 3 and never serves version 1's model under its number."""
    factors = {1: 1000.0, 2: 2.0, 3: 3.0}
    for number, factor in factors.items():
        formula = json.dumps({"entrypoint": "tests.formulas:scale", "parameters": {"factor": factor}})
        path = "/api/v1/components" + ("/rollback-target/versions" if number > 1 else "")
        response = upload(
            client,
            server,
            "developer",
            card_json("rollback-target", visibility="public"),
            [("formula.json", formula.encode())],
            path,
        )
        assert response.status_code == 201 and response.json()["version"] == number, response.text
    registry = server.centre.registry
    old, target = registry.version("rollback-target", 1), registry.version("rollback-target", 3)
    for file in Path(old.source.removeprefix("file://")).iterdir():
        (Path(target.source.removeprefix("file://")) / file.name).write_bytes(file.read_bytes())
    for tag in ("brain.manifest_sha256", "brain.manifest_hmac"):
        value = registry.client.get_model_version("rollback-target", "1").tags[tag]
        registry.client.set_model_version_tag("rollback-target", "3", tag, value)
    body = oip.encode_request({"x": np.ones((2, 3), dtype=np.float64)}).body
    headers = server.headers("consumer", "10.7.0.3")

    def call(url: str) -> httpx.Response:
        return client.post(url, content=body, headers=headers)

    copied = refused_for_the_signature(lambda: call("/v2/models/rollback-target/versions/3/infer"))
    assert "version 3" in error_of(copied)
    original = call("/v2/models/rollback-target/versions/1/infer")
    assert original.status_code == 200, original.text


# --- deprecated components are no longer served ---------------------------------------------------


def test_a_deprecated_component_answers_410_naming_its_replacement(
    server: Server, client: httpx.Client
) -> None:
    register_formula(client, server, "developer", "old-scale", visibility="public")
    register_formula(client, server, "developer", "new-scale", visibility="public")
    assert until(lambda: infer(client, server, "consumer", "old-scale").status_code == 200)
    response = client.post(
        "/api/v1/components/old-scale/deprecate",
        json={"replacement": "new-scale"},
        headers=server.headers("developer", "10.7.4.1"),
    )
    assert response.status_code == 200, response.text
    gone = until(lambda: (r := infer(client, server, "consumer", "old-scale")).status_code == 410 and r)
    assert gone, "the deprecated component was still served"
    assert "deprecated" in error_of(gone) and "'new-scale'" in error_of(gone)
    metadata = client.get("/v2/models/old-scale", headers=server.headers("consumer", "10.7.4.1"))
    assert metadata.status_code == 410
    # A replacement the caller cannot see is refused like a missing one.
    hidden = client.post(
        "/api/v1/components/new-scale/deprecate",
        json={"replacement": "matrix-private"},
        headers=server.headers("other-admin", "10.7.4.2"),
    )
    assert hidden.status_code == 403  # not its component, first


def test_an_operator_moderates_any_tenants_component(server: Server, client: httpx.Client) -> None:
    register_formula(client, server, "other-developer", "moderated", visibility="public")
    response = client.post(
        "/api/v1/components/moderated/deprecate", json={}, headers=server.headers("operator", "10.7.4.3")
    )
    assert response.status_code == 200
    assert until(lambda: infer(client, server, "consumer", "moderated").status_code == 410)


# --- bad input: a clear 4xx each -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data,files,status,words",
    [
        ({}, [("formula.json", FORMULA)], 400, "`card` field is missing"),
        ({"card": "{not json"}, [("formula.json", FORMULA)], 400, "not JSON"),
        ({"card": "[1]"}, [("formula.json", FORMULA)], 400, "JSON object"),
        (
            {"card": card_json("bad-card", kind="no-such-kind")},
            [("formula.json", FORMULA)],
            422,
            "invalid card",
        ),
        ({"card": card_json("no-files")}, [], 400, "no files were sent"),
        ({"card": card_json("odd-file")}, [("model.exe", b"MZ")], 400, "is not accepted"),
        (
            {"card": card_json("two-formats")},
            [("formula.json", FORMULA), ("model.onnx", b"x")],
            400,
            "send exactly",
        ),
        ({"card": card_json("bad-onnx")}, [("model.onnx", b"\x08\x07garbage")], 422, "not a readable ONNX"),
        ({"card": card_json("bad-formula")}, [("formula.json", b"{}")], 422, "formula.json must be"),
        (
            {"card": card_json("far-formula")},
            [("formula.json", b'{"entrypoint": "os:system"}')],
            422,
            "allowed",
        ),
        ({"card": card_json("bad-lineage"), "lineage": "[]"}, [("formula.json", FORMULA)], 400, "lineage"),
    ],
    ids=[
        "no-card",
        "card-not-json",
        "card-not-object",
        "card-invalid",
        "no-files",
        "odd-file",
        "two-formats",
        "bad-onnx",
        "bad-formula",
        "formula-outside",
        "bad-lineage",
    ],
)
def test_a_bad_upload_is_a_clear_4xx(
    server: Server,
    client: httpx.Client,
    data: dict[str, str],
    files: list[tuple[str, bytes]],
    status: int,
    words: str,
) -> None:
    response = client.post(
        "/api/v1/components",
        data=data,
        # Without a `files` part, another one keeps the body multipart.
        files=[("files", f) for f in files] or [("note", ("note.txt", b""))],
        headers=server.headers("developer", "10.7.5.1"),
    )
    assert response.status_code == status, response.text
    assert words in error_of(response)


def test_not_multipart_is_400(server: Server, client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/components", json={"card": {}}, headers=server.headers("developer", "10.7.5.2")
    )
    assert response.status_code == 400 and "multipart/form-data" in error_of(response)


def test_bodies_over_the_limit_are_413_before_parsing(
    server: Server, client: httpx.Client, owned: None
) -> None:
    big = b'{"version": 1, "alias": "' + b"x" * 70_000 + b'"}'
    response = client.post(
        "/api/v1/components/matrix-public/promote",
        content=big,
        headers=server.headers("developer", "10.7.6.1"),
    )
    assert response.status_code == 413 and "over the limit" in error_of(response)

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 8192

    chunked = client.post(
        "/api/v1/components/matrix-public/promote",
        content=chunks(),
        headers=server.headers("developer", "10.7.6.1"),
    )
    assert chunked.status_code == 413
    settings = server.centre.registry.settings
    before = settings.max_model_bytes
    settings.max_model_bytes = 10_000  # the upload limit is the model limit plus 1 MiB of framing
    try:
        too_big = upload(
            client,
            server,
            "developer",
            card_json("too-big"),
            [("model.onnx", b"\x08" * (1024 * 1024 + 20_000))],
        )
    finally:
        settings.max_model_bytes = before
    assert too_big.status_code == 413, too_big.text


@pytest.mark.parametrize(
    "path,body,words",
    [
        ("promote", {"version": 0}, "version"),
        ("promote", {"version": 1, "alias": "gold"}, "unknown alias"),
        ("promote", {"version": 99}, "not registered"),
        ("rollback", {"to": "x"}, "to"),
        ("canary", {"version": 1, "percent": 100}, "percent"),
        ("serving", {"min_replicas": 5, "max_replicas": 2}, "min_replicas"),
        ("serving", {"no_such_field": 1}, "no_such_field"),
        ("deprecate", {"replacement": "matrix-public"}, "cannot replace itself"),
    ],
)
def test_a_bad_change_is_a_clear_4xx(
    server: Server, client: httpx.Client, owned: None, path: str, body: dict[str, Any], words: str
) -> None:
    method = "PUT" if path in ("canary", "serving") else "POST"
    response = client.request(
        method,
        f"/api/v1/components/matrix-public/{path}",
        json=body,
        headers=server.headers("admin", "10.7.7.1"),
    )
    assert response.status_code in (400, 404), response.text
    assert words in error_of(response)


def test_export_is_a_zip_of_the_verified_folder(server: Server, client: httpx.Client, owned: None) -> None:
    import io
    import zipfile

    response = client.get(
        "/api/v1/components/matrix-private/export?version=1", headers=server.headers("developer", "10.7.8.1")
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(response.content)).namelist())
    assert names == {"card.json", "formula.json", "manifest.json"}


# --- `brain components` through the API --------------------------------------------------------------


def test_the_cli_goes_through_the_api_with_a_url_and_key(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`brain components` with BRAIN_URL/BRAIN_API_KEY: the key's tenant owns what it registers, a
    scikit-learn pickle is converted here and uploaded as ONNX, a pickle file is refused here."""
    import yaml
    from sklearn.linear_model import Ridge
    from typer.testing import CliRunner

    from deploy.cli.main import app

    monkeypatch.setenv("BRAIN_URL", server.url)
    monkeypatch.setenv("BRAIN_API_KEY", server.keys["developer"])
    monkeypatch.setenv("BRAIN_HOME", str(tmp_path / "client-home"))  # nothing local is used
    runner = CliRunner()

    def brain(*args: str) -> Any:
        result = runner.invoke(app, ["components", *args])
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    card = tmp_path / "card.yaml"
    fields = card_data(name="cli-scale", **SCALE_IO)
    fields.pop("owner")
    card.write_text(yaml.safe_dump(fields, allow_unicode=True), encoding="utf-8")
    params = tmp_path / "params.json"
    params.write_text('{"factor": 3.0}', encoding="utf-8")
    registered = json.loads(
        brain(
            "register",
            "--card",
            str(card),
            "--formula",
            "tests.formulas:scale",
            "--params",
            str(params),
            "--promote",
            "production",
            "--json",
        ).stdout
    )
    assert (registered["name"], registered["version"], registered["aliases"]) == (
        "cli-scale",
        1,
        ["production"],
    )
    shown = json.loads(brain("show", "cli-scale", "--json").stdout)
    assert shown["card"]["owner"] == "lubei-chem"

    # Converted on the client: the developer's own pickle is loaded here, ONNX goes up.
    x = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    estimator = tmp_path / "ridge.joblib"
    import joblib

    joblib.dump(Ridge().fit(x, x.sum(axis=1)), estimator)
    sk_card = tmp_path / "sk.yaml"
    sk_fields = card_data(name="cli-ridge")
    sk_fields.pop("owner")
    sk_card.write_text(yaml.safe_dump(sk_fields, allow_unicode=True), encoding="utf-8")
    converted = json.loads(
        brain("register", "--card", str(sk_card), "--sklearn", str(estimator), "--json").stdout
    )
    assert converted["format"] == "onnx"

    refused = runner.invoke(app, ["components", "register", "--card", str(sk_card), "--file", str(estimator)])
    assert refused.exit_code != 0 and "no pickle-based files" in " ".join(refused.output.split())
    # A card file that is not a mapping is named before anything is converted or sent.
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a card\n", encoding="utf-8")
    unread = runner.invoke(app, ["components", "register", "--card", str(bad), "--sklearn", str(estimator)])
    assert unread.exit_code != 0
    assert "bad.yaml' must hold a mapping of card fields" in str(getattr(unread.exception, "message", ""))

    brain("deprecate", "cli-scale", "--replacement", "cli-ridge")
    assert json.loads(brain("show", "cli-scale", "--json").stdout)["replaced_by"] == "cli-ridge"
    exported = brain("export", "cli-ridge", "--dest", str(tmp_path / "out"), "--json")
    folder = Path(json.loads(exported.stdout)["path"])
    assert {"model.onnx", "card.json", "manifest.json"} <= {p.name for p in folder.iterdir()}

    # Another tenant's key through the same commands: refused by the platform.
    monkeypatch.setenv("BRAIN_API_KEY", server.keys["other-admin"])
    other = runner.invoke(app, ["components", "promote", "cli-ridge", "1"])
    assert other.exit_code != 0
    assert "belongs to tenant 'lubei-chem'" in str(getattr(other.exception, "message", other.output))


# --- the audit log --------------------------------------------------------------------------------


def test_registry_changes_are_audited_and_only_operators_read_the_log(
    server: Server, client: httpx.Client
) -> None:
    register_formula(client, server, "developer", "audited", visibility="public")
    promoted = client.post(
        "/api/v1/components/audited/promote",
        json={"version": 1, "alias": "production"},
        headers=server.headers("developer", "10.7.9.1"),
    )
    assert promoted.status_code == 200, promoted.text
    refused = client.post(
        "/api/v1/components/audited/deprecate",
        json={"version": 1},
        headers=server.headers("other-admin", "10.7.9.1"),
    )
    assert refused.status_code == 403  # a refused change leaves no entry

    def log(who: str, **params: str) -> httpx.Response:
        return client.get("/api/v1/audit", params=params, headers=server.headers(who, "10.7.9.2"))

    entries = log("operator", target="audited").json()["items"]
    assert [e["action"] for e in entries] == ["component.promote", "component.register"]
    developer = f"key:ibk_{server.centre.tenants.authenticate(server.keys['developer']).key_id}"
    for entry in entries:
        assert entry["actor"] == developer
        assert (entry["detail"]["tenant"], entry["detail"]["role"], entry["detail"]["owner"]) == (
            "lubei-chem",
            "developer",
            "lubei-chem",
        )
    assert entries[0]["detail"]["aliases"] == ["production"]
    family = log("operator-ops", action="component.", target="audited").json()["items"]
    assert len(family) == 2
    assert log("operator", action="component.deprecate", target="audited").json()["items"] == []
    # The same entries from the host's CLI (the operator's own authority on the database).
    assert [e.action for e in server.centre.tenants.audit_log(target="audited")] == [
        "component.promote",
        "component.register",
    ]
    for who in ("developer", "admin", "ops", "consumer", "other-admin", "operator-consumer"):
        response = log(who)
        assert response.status_code == 403 and "read audit log" in error_of(response), who
    assert log("operator", limit="0").status_code == 400


# --- payload samples ------------------------------------------------------------------------------


def test_payload_samples_are_kept_for_a_private_component_and_read_by_its_owner_only(
    server: Server, client: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from deploy.cli.main import app

    register_formula(client, server, "developer", "sampled", visibility="private")
    register_formula(client, server, "developer", "sampled-public", visibility="public")

    def serving(name: str, rate: float, who: str = "admin") -> httpx.Response:
        return client.put(
            f"/api/v1/components/{name}/serving",
            json={"payload_sample_rate": rate},
            headers=server.headers(who, "10.7.10.1"),
        )

    refused = serving("sampled-public", 0.1)
    assert refused.status_code == 400 and "private components only" in error_of(refused)
    assert serving("sampled", 0.5).status_code == 400  # over the 0.1 cap, named by the validation
    assert serving("sampled", 0.1).status_code == 200

    def samples(who: str, **params: str) -> httpx.Response:
        return client.get(
            "/api/v1/components/sampled/payloads", params=params, headers=server.headers(who, "10.7.10.2")
        )

    def called_until_stored() -> int:
        for _ in range(10):  # the policy reaches the replica with the routes (every 2 s)
            assert infer(client, server, "developer", "sampled").status_code == 200
        stored: int = samples("developer").json()["stored"]
        return stored

    assert until(called_until_stored, timeout=30) >= 1
    body = samples("developer", limit="1").json()
    assert body["sample_rate"] == 0.1
    (sample,) = body["items"]
    assert sample["inputs"]["x"]["data"] == [1.0] * 6 and sample["outputs"]["y"]["data"] == [6.0, 6.0]
    assert sample["tenant"] == "lubei-chem"

    # The owner's admin and developer only: not its consumer or ops, not a platform operator (it is the
    # enterprise's data), and another tenant does not learn that the component exists.
    for who in ("consumer", "ops", "operator", "operator-ops"):
        response = samples(who)
        assert response.status_code == 403 and "read payload samples" in error_of(response), who
    assert samples("other-admin").status_code == 404
    assert samples("admin").status_code == 200
    assert samples("developer", limit="0").status_code == 400

    # The same through `brain components` with the developer's key; the consumer's key is refused.
    monkeypatch.setenv("BRAIN_URL", server.url)
    monkeypatch.setenv("BRAIN_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("BRAIN_API_KEY", server.keys["developer"])
    shown = CliRunner().invoke(app, ["components", "payloads", "sampled", "--limit", "1", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["items"][0]["inputs"] == sample["inputs"]
    listed = CliRunner().invoke(app, ["components", "payloads", "sampled"])
    assert listed.exit_code == 0 and "samples stored" in listed.output
    monkeypatch.setenv("BRAIN_API_KEY", server.keys["consumer"])
    refused_cli = CliRunner().invoke(app, ["components", "payloads", "sampled"])
    assert refused_cli.exit_code != 0

    purged = client.delete(
        "/api/v1/components/sampled/payloads", headers=server.headers("admin", "10.7.10.3")
    )
    assert purged.status_code == 200 and purged.json()["deleted"] >= 1
    assert serving("sampled", 0.0).status_code == 200
    assert samples("developer").json()["stored"] <= 1  # at most one written between purge and off
    (entry, *_) = server.centre.tenants.audit_log(target="sampled", action="component.payloads.purge")
    assert entry.detail["deleted"] == purged.json()["deleted"]
