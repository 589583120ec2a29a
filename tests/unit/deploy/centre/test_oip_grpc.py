"""The gRPC codec: messages built by tritonclient (raw) and by hand from service_pb2 (typed contents),
decoded into the REST codec's request; answers read back by tritonclient's own result class."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2 as pb

from deploy.centre.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    NotReady,
    PayloadTooLarge,
    RateLimited,
    ServeError,
    Unauthorized,
)
from deploy.centre.grpc_service import status_of
from deploy.centre.oip import Caps
from deploy.centre.oip_grpc import CONTENTS_FIELD, decode_infer, encode_infer
from model_hub.card import TensorSpec
from tests.unit.deploy.centre.test_oip import SAMPLES

CAPS = Caps()
LIMIT = 1 << 20


def spec(datatype: str, name: str = "x") -> TensorSpec:
    return TensorSpec.model_validate({"name": name, "datatype": datatype, "shape": [-1, 3]})


def raw_request(datatype: str, sample: np.ndarray) -> pb.ModelInferRequest:
    """The message tritonclient's InferenceServerClient.infer sends (raw_input_contents)."""
    tensor = triton.InferInput("x", list(sample.shape), datatype)
    tensor.set_data_from_numpy(sample)
    request = pb.ModelInferRequest(model_name="m", id="r-1")
    request.inputs.extend([tensor._get_tensor()])
    request.raw_input_contents.extend([tensor._get_content()])
    return request


def typed_request(datatype: str, sample: np.ndarray) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="m")
    tensor = request.inputs.add(name="x", datatype=datatype, shape=list(sample.shape))
    getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend(sample.ravel().tolist())
    return request


@pytest.mark.parametrize("datatype", sorted(SAMPLES))
def test_raw_contents_of_every_datatype_round_trip(datatype: str) -> None:
    sample = SAMPLES[datatype]
    decoded = decode_infer(raw_request(datatype, sample), [spec(datatype)], CAPS, LIMIT)
    assert decoded.id == "r-1"
    got = decoded.arrays()["x"]
    assert got.shape == sample.shape and got.tolist() == sample.tolist()
    response = encode_infer(
        decoded, {"y": got}, model_name="m", model_version="1", output_specs=[spec(datatype, "y")]
    )
    result = triton.InferResult(pb.ModelInferResponse.FromString(response.SerializeToString()))
    assert result.get_response().id == "r-1"
    assert result.as_numpy("y").tolist() == sample.tolist()
    assert result.get_output("y").datatype == datatype


@pytest.mark.parametrize("datatype", sorted(set(SAMPLES) - {"FP16"}))
def test_typed_contents_of_every_datatype(datatype: str) -> None:
    sample = SAMPLES[datatype]
    decoded = decode_infer(typed_request(datatype, sample), [spec(datatype)], CAPS, LIMIT)
    got = decoded.arrays()["x"]
    assert got.dtype == (object if datatype == "BYTES" else sample.dtype)
    assert got.tolist() == sample.tolist()


def test_fp16_has_no_typed_field() -> None:
    request = pb.ModelInferRequest(model_name="m")
    request.inputs.add(name="x", datatype="FP16", shape=[1, 3])
    with pytest.raises(BadRequest, match="no typed contents field.*raw_input_contents"):
        decode_infer(request, [spec("FP16")], CAPS, LIMIT)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: setattr(r.inputs[0], "datatype", "FP99"), "datatype 'FP99'; use one of"),
        (
            lambda r: setattr(r.inputs[0], "datatype", "INT32"),
            "has datatype INT32, but the component expects FP32",
        ),
        (lambda r: setattr(r.inputs[0], "name", "z"), "input 'z' is not an input of this component"),
        (lambda r: r.inputs[0].contents.fp32_contents.append(1.0), "typed contents and a raw_input_contents"),
        (lambda r: r.raw_input_contents.append(b"1234"), "2 raw_input_contents"),
        (lambda r: r.raw_input_contents.__setitem__(0, b"123"), "input 'x' holds 3 bytes, but its shape"),
        (
            lambda r: setattr(r.inputs[0].parameters["shared_memory_region"], "string_param", "r"),
            "shared-memory",
        ),
        (lambda r: r.inputs.add(name="x", datatype="FP32", shape=[2, 3]), "raw_input_contents"),
        (lambda r: r.ClearField("inputs"), "non-empty 'inputs'"),
    ],
)
def test_bad_messages_get_the_rest_doors_texts(change: object, fragment: str) -> None:
    request = raw_request("FP32", SAMPLES["FP32"])
    change(request)  # type: ignore[operator]
    with pytest.raises(BadRequest, match=fragment):
        decode_infer(request, [spec("FP32")], CAPS, LIMIT)


def test_narrow_integers_out_of_range_are_refused() -> None:
    request = typed_request("INT8", SAMPLES["INT8"])
    request.inputs[0].contents.int_contents[0] = 300
    with pytest.raises(BadRequest, match=r"values must lie in \[-128, 127\]"):
        decode_infer(request, [spec("INT8")], CAPS, LIMIT)


def test_count_and_caps_are_checked_before_arrays_are_built() -> None:
    request = typed_request("FP32", SAMPLES["FP32"])
    request.inputs[0].contents.fp32_contents.append(1.0)
    with pytest.raises(BadRequest, match="7"):
        decode_infer(request, [spec("FP32")], CAPS, LIMIT)
    huge = pb.ModelInferRequest(model_name="m")
    huge.inputs.add(name="x", datatype="FP32", shape=[10**6, 3])
    with pytest.raises(BadRequest, match="rows"):
        decode_infer(huge, [spec("FP32")], CAPS, LIMIT)


def test_a_message_over_the_body_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_infer(raw_request("FP64", SAMPLES["FP64"]), [spec("FP64")], CAPS, 10)


def test_requested_outputs_and_unknown_outputs() -> None:
    request = raw_request("FP32", SAMPLES["FP32"])
    request.outputs.add(name="b")
    decoded = decode_infer(request, [spec("FP32")], CAPS, LIMIT)
    outputs = {"a": np.zeros((2, 1), np.float32), "b": np.ones((2, 1), np.float32)}
    response = encode_infer(decoded, outputs, model_name="m", model_version="1", output_specs=[])
    assert [o.name for o in response.outputs] == ["b"] and len(response.raw_output_contents) == 1
    request.outputs.add(name="c")
    decoded = decode_infer(request, [spec("FP32")], CAPS, LIMIT)
    with pytest.raises(BadRequest, match="output 'c' was requested but this component produces only a, b"):
        encode_infer(decoded, outputs, model_name="m", model_version="1", output_specs=[])


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadRequest("bad"), "INVALID_ARGUMENT"),
        (Unauthorized("no API key"), "UNAUTHENTICATED"),
        (Forbidden("consumer", "read usage of other tenants", ["admin"]), "PERMISSION_DENIED"),
        (NotFound("component x"), "NOT_FOUND"),
        (PayloadTooLarge(10, 5), "RESOURCE_EXHAUSTED"),
        (RateLimited("t", 2.0), "RESOURCE_EXHAUSTED"),
        (NotReady("the capability centre"), "UNAVAILABLE"),
        (RuntimeError("boom"), "INTERNAL"),
    ],
)
def test_every_status_has_its_grpc_code_and_the_same_text(error: Exception, code: str) -> None:
    got, details, trailing = status_of(error)
    assert got.name == code
    if isinstance(error, ServeError):
        assert details == error.message
        assert dict(trailing) == {k.lower(): v for k, v in error.headers().items()}
    else:  # never the exception's own text: an incident number for the logs
        assert "boom" not in details and "incident" in details
