"""Bodies made by tritonclient's own encoder, and responses read by its own decoder, with its defaults."""

from __future__ import annotations

import numpy as np
import pytest

from deploy.centre.oip import decode_request, encode_response
from model_hub.card import TensorSpec
from tests.unit.deploy.centre.test_oip import SAMPLES

triton_http = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed")
triton_utils = pytest.importorskip("tritonclient.http._utils")


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("datatype", ["FP32", "FP16", "INT64", "UINT8", "BOOL", "BYTES"])
def test_tritonclient_request_and_response(datatype: str, binary: bool) -> None:
    sample = SAMPLES[datatype]
    tensor = triton_http.InferInput("x", list(sample.shape), datatype)
    tensor.set_data_from_numpy(sample, binary_data=binary)
    # No requested outputs: tritonclient then asks for every output in binary.
    body, header_length = triton_utils._get_inference_request(
        inputs=[tensor],
        request_id="t-1",
        outputs=None,
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        custom_parameters=None,
    )
    assert (header_length is not None) == binary

    spec = TensorSpec.model_validate({"name": "x", "datatype": datatype, "shape": [-1, 3]})
    request = decode_request(body, header_length, [spec])
    assert request.arrays()["x"].tolist() == sample.tolist()
    assert request.binary_outputs is True

    answer = encode_response(request, {"y": sample}, model_name="m", model_version="1")
    result = triton_http.InferResult.from_response_body(answer.body, header_length=answer.header_length)
    assert result.get_response()["id"] == "t-1"
    assert result.as_numpy("y").reshape(sample.shape).tolist() == sample.tolist()


def test_tritonclient_requested_json_output() -> None:
    tensor = triton_http.InferInput("x", [1, 3], "FP32")
    tensor.set_data_from_numpy(np.array([[1, 2, 3]], dtype=np.float32))
    body, header_length = triton_utils._get_inference_request(
        inputs=[tensor],
        request_id="",
        outputs=[triton_http.InferRequestedOutput("y", binary_data=False)],
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        custom_parameters=None,
    )
    request = decode_request(body, header_length, [TensorSpec(name="x", datatype="FP32", shape=[-1, 3])])
    answer = encode_response(request, {"y": np.array([[6.0]], dtype=np.float32)}, model_name="m")
    assert answer.header_length is None
    result = triton_http.InferResult.from_response_body(answer.body)
    assert result.as_numpy("y").tolist() == [[6.0]]
