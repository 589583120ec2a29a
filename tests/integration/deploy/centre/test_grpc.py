"""The Open Inference Protocol over gRPC on the real centre (Ray Serve, HAProxy's gRPC frontend, one hop):
the unmodified tritonclient.grpc with keys, raw and typed contents of every datatype, and plain grpcio
calls for each error, with the REST door's texts under gRPC status codes."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from deploy.centre.oip import DATATYPES
from deploy.centre.oip_grpc import CONTENTS_FIELD
from tests.integration.deploy.centre.conftest import Centre
from tests.integration.deploy.centre.test_capability_centre import X, expected
from tests.unit.deploy.centre.test_oip import SAMPLES


def bearer(c: Centre, who: str) -> dict[str, str]:
    return {"authorization": f"Bearer {c.keys[who]}"}


@pytest.fixture(scope="module")
def client(centre: Centre) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(url=centre.grpc) as made:
        yield made


@pytest.fixture(scope="module")
def stub(centre: Centre) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(centre.grpc) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def refused(call: object, *args: object, **kw: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kw)  # type: ignore[operator]
    error = caught.value
    assert isinstance(error, grpc.RpcError)
    return error


def reactor_request(x: list[list[float]] = X) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="reactor-quality")
    tensor = request.inputs.add(name="x", datatype="FP32", shape=[len(x), 4])
    tensor.contents.fp32_contents.extend(np.asarray(x, np.float32).ravel().tolist())
    return request


def test_health_and_metadata_with_tritonclient(centre: Centre, client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta.name == "industry-brain" and "binary_tensor_data" in meta.extensions
    headers = bearer(centre, "lubei-chem")
    assert client.is_model_ready("reactor-quality", headers=headers)
    assert client.is_model_ready("reactor-quality", "2", headers=headers)
    model = client.get_model_metadata("reactor-quality", headers=headers)
    assert model.platform == "onnxruntime_onnx" and list(model.versions) == ["1", "2"]
    assert [(t.name, t.datatype, list(t.shape)) for t in model.inputs] == [("x", "FP32", [-1, 4])]


def test_tritonclient_infer_raw_with_a_key(centre: Centre, client: triton.InferenceServerClient) -> None:
    x = np.asarray(X, np.float32)
    tensor = triton.InferInput("x", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    headers = bearer(centre, "lubei-chem")
    result = client.infer("reactor-quality", [tensor], headers=headers, request_id="g-1")
    np.testing.assert_allclose(result.as_numpy("y"), expected(1), rtol=1e-6)
    response = result.get_response()
    assert response.model_version == "1" and response.id == "g-1"
    pinned = client.infer("reactor-quality", [tensor], model_version="2", headers=headers)
    np.testing.assert_allclose(pinned.as_numpy("y"), expected(2), rtol=1e-6)


def test_every_datatype_raw_through_tritonclient(
    centre: Centre, client: triton.InferenceServerClient
) -> None:
    inputs = []
    for datatype in DATATYPES:
        tensor = triton.InferInput(datatype.lower(), list(SAMPLES[datatype].shape), datatype)
        tensor.set_data_from_numpy(SAMPLES[datatype])
        inputs.append(tensor)
    result = client.infer("echo-types", inputs, headers=bearer(centre, "bulk"))
    for datatype in DATATYPES:
        got = result.as_numpy(f"out_{datatype.lower()}")
        assert got.tolist() == SAMPLES[datatype].tolist(), datatype
        assert result.get_output(f"out_{datatype.lower()}").datatype == datatype


def test_every_typed_contents_field_through_plain_grpcio(
    centre: Centre, stub: service_pb2_grpc.GRPCInferenceServiceStub
) -> None:
    typed = [d for d in DATATYPES if d != "FP16"]
    request = pb.ModelInferRequest(model_name="echo-typed")
    for datatype in typed:
        sample = SAMPLES[datatype]
        tensor = request.inputs.add(name=datatype.lower(), datatype=datatype, shape=list(sample.shape))
        getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend(sample.ravel().tolist())
    response = stub.ModelInfer(request, metadata=list(bearer(centre, "bulk").items()))
    result = triton.InferResult(response)
    for datatype in typed:
        assert result.as_numpy(f"out_{datatype.lower()}").tolist() == SAMPLES[datatype].tolist(), datatype


def test_the_same_error_texts_under_grpc_status_codes(
    centre: Centre, stub: service_pb2_grpc.GRPCInferenceServiceStub
) -> None:
    # No key, and an unknown one: UNAUTHENTICATED with the REST door's text.
    none = refused(stub.ModelInfer, reactor_request())
    assert none.code() == grpc.StatusCode.UNAUTHENTICATED
    rest = httpx.post(f"{centre.url}/v2/models/reactor-quality/infer", json={"inputs": []}, timeout=10)
    assert rest.status_code == 401 and none.details() == rest.json()["error"]
    bad = refused(
        stub.ModelInfer, reactor_request(), metadata=[("authorization", "Bearer ibk_00000000_nope")]
    )
    assert bad.code() == grpc.StatusCode.UNAUTHENTICATED and "not recognised" in bad.details()

    # Unknown and invisible components look the same: NOT_FOUND.
    shantui = list(bearer(centre, "shantui").items())
    unknown_request = reactor_request()
    unknown_request.model_name = "no-such-thing"
    unknown = refused(stub.ModelInfer, unknown_request, metadata=shantui)
    private = refused(stub.ModelInfer, reactor_request(), metadata=shantui)
    assert unknown.code() == private.code() == grpc.StatusCode.NOT_FOUND
    assert unknown.details().replace("no-such-thing", "X") == private.details().replace(
        "reactor-quality", "X"
    )
    meta = refused(stub.ModelMetadata, pb.ModelMetadataRequest(name="reactor-quality"), metadata=shantui)
    assert meta.code() == grpc.StatusCode.NOT_FOUND

    # A bad message: INVALID_ARGUMENT, with the codec's text.
    lubei = list(bearer(centre, "lubei-chem").items())
    wrong = reactor_request()
    wrong.inputs[0].datatype = "FP64"
    wrong.inputs[0].contents.Clear()
    wrong.inputs[0].contents.fp64_contents.extend([1.0] * 8)
    error = refused(stub.ModelInfer, wrong, metadata=lubei)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "input 'x' has datatype FP64, but the component expects FP32"
    version = reactor_request()
    version.model_version = "abc"
    assert refused(stub.ModelInfer, version, metadata=lubei).code() == grpc.StatusCode.INVALID_ARGUMENT

    # Over BRAIN_MAX_BODY_BYTES (100000 in these tests): RESOURCE_EXHAUSTED, as REST's 413.
    big = refused(stub.ModelInfer, reactor_request([[1.0, 2.0, 3.0, 4.0]] * 10_000), metadata=lubei)
    assert (
        big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "over the limit of 100000 bytes" in big.details()
    )

    # A component with no servable version: UNAVAILABLE.
    retired = reactor_request()
    retired.model_name = "retired-model"
    gone = refused(stub.ModelInfer, retired, metadata=shantui)
    assert gone.code() == grpc.StatusCode.UNAVAILABLE and "not ready" in gone.details()

    # Triton's methods beyond OIP: UNIMPLEMENTED, naming those offered.
    index = refused(stub.RepositoryIndex, pb.RepositoryIndexRequest(), metadata=lubei)
    assert index.code() == grpc.StatusCode.UNIMPLEMENTED and "ModelInfer" in index.details()


def test_rate_limit_is_resource_exhausted_with_retry_after(
    centre: Centre, stub: service_pb2_grpc.GRPCInferenceServiceStub
) -> None:
    request = pb.ModelInferRequest(model_name="sum-formula")
    request.inputs.add(name="x", datatype="FP64", shape=[1, 3]).contents.fp64_contents.extend([1, 2, 3])
    tight = list(bearer(centre, "tight").items())
    errors = []
    for _ in range(4):  # burst 2 at 0.5/s: the REST tests may have spent it already
        try:
            stub.ModelInfer(request, metadata=tight)
        except grpc.RpcError as exc:
            errors.append(exc)
    assert errors, "four calls in a row at 0.5/s were all admitted"
    limited = errors[0]
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert "over its request rate" in limited.details()  # type: ignore[attr-defined]
    trailing = dict(limited.trailing_metadata())  # type: ignore[attr-defined]
    assert int(trailing["retry-after"]) >= 1


def test_grpc_calls_are_metered_as_rest_calls(centre: Centre, client: triton.InferenceServerClient) -> None:
    def counted() -> float:
        text = httpx.get(f"{centre.url}/metrics", headers=centre.headers("operator"), timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if (
                line.startswith("brain_requests_total{")
                and 'component="echo-types"' in line
                and "200" in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total

    before = counted()
    tensor_inputs = []
    for datatype in DATATYPES:
        tensor = triton.InferInput(datatype.lower(), list(SAMPLES[datatype].shape), datatype)
        tensor.set_data_from_numpy(SAMPLES[datatype])
        tensor_inputs.append(tensor)
    for _ in range(3):
        client.infer("echo-types", tensor_inputs, headers=bearer(centre, "bulk"))
    assert counted() == before + 3


def test_a_pipeline_over_grpc(centre: Centre, client: triton.InferenceServerClient) -> None:
    """A pipeline goes through the same call as a component: sum-formula (2·the row's sum), then the
    root, in the replica that took the gRPC call."""
    x = np.array([[1.0, 2.0, 5.0], [0.5, 0.5, 1.0]])
    tensor = triton.InferInput("x", list(x.shape), "FP64")
    tensor.set_data_from_numpy(x)
    result = client.infer("sum-root", [tensor], headers=bearer(centre, "bulk"))
    np.testing.assert_allclose(result.as_numpy("z"), [[4.0], [2.0]])
    negative = triton.InferInput("x", [1, 3], "FP64")
    negative.set_data_from_numpy(-np.ones((1, 3)))
    with pytest.raises(triton.InferenceServerException) as caught:
        client.infer("sum-root", [negative], headers=bearer(centre, "bulk"))
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "pipeline step 'root' (root-formula version 1) failed" in str(caught.value.message())
