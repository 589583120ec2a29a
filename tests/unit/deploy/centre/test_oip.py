"""The Open Inference Protocol codec: every datatype, both encodings, real clients' bodies, every 400."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import pytest

from deploy.centre import errors
from deploy.centre.oip import (
    DATATYPES,
    RequestedOutput,
    datatype_of,
    decode_request,
    encode_request,
    encode_response,
    parse_request,
    parse_response,
    validate_inputs,
)
from model_hub.card import TensorSpec

# One sample per datatype, with values at the edges of each type's range.
SAMPLES: dict[str, np.ndarray] = {
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "UINT8": np.array([[0, 1, 255], [7, 8, 9]], dtype=np.uint8),
    "UINT16": np.array([[0, 65535, 2], [3, 4, 5]], dtype=np.uint16),
    "UINT32": np.array([[0, 2**32 - 1, 2], [3, 4, 5]], dtype=np.uint32),
    "UINT64": np.array([[0, 2**64 - 1, 2], [3, 4, 5]], dtype=np.uint64),
    "INT8": np.array([[-128, 127, 0], [1, -1, 2]], dtype=np.int8),
    "INT16": np.array([[-32768, 32767, 0], [1, -1, 2]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 2**31 - 1, 0], [1, -1, 2]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 2**63 - 1, 0], [1, -1, 2]], dtype=np.int64),
    "FP16": np.array([[0.5, -65504.0, 65504.0], [1.25, -2.0, 3.0]], dtype=np.float16),
    "FP32": np.array([[0.1, -3.4e38, 3.4e38], [1e-30, -2.0, 3.0]], dtype=np.float32),
    "FP64": np.array([[0.1, -1.7e308, 1.7e308], [5e-324, -2.0, 3.0]], dtype=np.float64),
    "BYTES": np.array([[b"a", b"", "产业大脑".encode()], [b"x y", b"{}", b"z"]], dtype=object),
}


def test_samples_cover_every_datatype() -> None:
    assert set(SAMPLES) == set(DATATYPES)


def _json_data(array: np.ndarray, datatype: str) -> list[Any]:
    if datatype == "BYTES":
        return [[v.decode() for v in row] for row in array.tolist()]
    return array.tolist()  # nested, native Python numbers


def _body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def _spec(name: str = "x", datatype: str = "FP32", shape: list[int] | None = None, **kw: Any) -> TensorSpec:
    return TensorSpec.model_validate({"name": name, "datatype": datatype, "shape": shape or [-1, 3], **kw})


# --- JSON tensors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("datatype", DATATYPES)
@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_json_tensor_of_every_datatype(datatype: str, layout: str) -> None:
    expected = SAMPLES[datatype]
    data = _json_data(expected, datatype)
    if layout == "flat":
        data = [v for row in data for v in row]
    body = _body({"name": "x", "shape": [2, 3], "datatype": datatype, "data": data})

    request = parse_request(body)

    array = request.arrays()["x"]
    assert array.shape == (2, 3)
    if datatype == "BYTES":
        assert array.dtype == object
        assert array.tolist() == expected.tolist()
    else:
        assert array.dtype == expected.dtype
        np.testing.assert_array_equal(array, expected)


def test_id_parameters_and_unknown_fields_are_tolerated_and_id_echoed() -> None:
    # KServe's REST client adds model_name; Triton's adds request parameters; others add their own.
    body = _body(
        {
            "name": "x",
            "shape": [1, 3],
            "datatype": "FP32",
            "data": [1, 2, 3],
            "parameters": {"content_type": "np"},
        },
        id="req-42",
        model_name="yield-model",
        parameters={"priority": 1, "custom": "yes"},
        something_new={"a": 1},
    )
    request = decode_request(body, None, [_spec()])
    assert request.id == "req-42"
    assert request.parameters == {"priority": 1, "custom": "yes"}

    answer = encode_response(
        request, {"y": np.array([[6.0]], dtype=np.float32)}, model_name="m", model_version="3"
    )
    doc = json.loads(answer.body)
    assert answer.header_length is None and answer.content_type == "application/json"
    assert doc == {
        "model_name": "m",
        "model_version": "3",
        "id": "req-42",
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 1], "data": [6.0]}],
    }


def test_body_is_json_whatever_it_is_called() -> None:
    # No content type is involved at all: bytes, bytearray and str bodies decode alike.
    raw = _body({"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]})
    for body in (raw, bytearray(raw), raw.decode()):
        np.testing.assert_array_equal(parse_request(body).arrays()["x"], [[1, 2, 3]])


def test_ints_are_accepted_for_float_tensors() -> None:
    request = parse_request(_body({"name": "x", "shape": [3], "datatype": "FP64", "data": [1, 2, 3]}))
    assert request.arrays()["x"].dtype == np.float64


def test_empty_batch_is_valid() -> None:
    request = decode_request(
        _body({"name": "x", "shape": [0, 3], "datatype": "FP32", "data": []}), None, [_spec()]
    )
    assert request.arrays()["x"].shape == (0, 3)


# --- the binary tensor extension ------------------------------------------------------------------


@pytest.mark.parametrize("datatype", DATATYPES)
def test_binary_round_trip_of_every_datatype(datatype: str) -> None:
    sample = SAMPLES[datatype]
    encoded = encode_request({"x": sample, "flag": np.array([True])}, binary=True, request_id="b1")
    assert encoded.header_length is not None
    assert encoded.headers()["Inference-Header-Content-Length"] == str(encoded.header_length)

    request = parse_request(encoded.body, str(encoded.header_length))

    got = request.arrays()["x"]
    assert got.shape == sample.shape
    assert request.arrays()["flag"].tolist() == [True]
    if datatype == "BYTES":
        assert got.tolist() == sample.tolist()
    else:
        assert got.dtype == sample.dtype
        np.testing.assert_array_equal(got, sample)

    answer = encode_response(request, {"y": sample}, model_name="m")
    assert answer.header_length is None  # binary only when asked for
    request_binary = parse_request(
        encode_request({"x": sample}, binary=True, binary_outputs=True).body,
        encode_request({"x": sample}, binary=True, binary_outputs=True).header_length,
    )
    answer = encode_response(request_binary, {"y": sample}, model_name="m")
    assert answer.header_length is not None
    back = parse_response(answer.body, answer.header_length).outputs["y"]
    assert back.tolist() == sample.tolist()


def test_binary_bytes_layout_is_length_prefixed_little_endian() -> None:
    encoded = encode_request({"s": np.array([b"ab", b"cde"], dtype=object)}, binary=True)
    assert encoded.header_length is not None
    assert (
        encoded.body[encoded.header_length :] == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 3) + b"cde"
    )


def test_binary_and_json_inputs_mix_in_order() -> None:
    head = {
        "inputs": [
            {"name": "a", "shape": [2], "datatype": "INT32", "parameters": {"binary_data_size": 8}},
            {"name": "b", "shape": [1], "datatype": "FP64", "data": [0.5]},
            {"name": "c", "shape": [1], "datatype": "INT16", "parameters": {"binary_data_size": 2}},
        ]
    }
    header = json.dumps(head).encode()
    body = header + struct.pack("<ii", 7, -8) + struct.pack("<h", 300)
    arrays = parse_request(body, len(header)).arrays()
    assert arrays["a"].tolist() == [7, -8]
    assert arrays["b"].tolist() == [0.5]
    assert arrays["c"].tolist() == [300]


def test_requested_outputs_select_and_choose_encoding_each() -> None:
    request = parse_request(
        _body(
            {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]},
            outputs=[{"name": "b", "parameters": {"binary_data": True}}, {"name": "a"}],
        )
    )
    outputs: dict[str, np.ndarray] = {
        "a": np.array([1, 2], dtype=np.int64),
        "b": np.array([0.25], dtype=np.float32),
        "c": np.array([9]),
    }
    answer = encode_response(request, outputs, model_name="m")
    assert answer.header_length is not None
    doc = json.loads(answer.body[: answer.header_length])
    assert [o["name"] for o in doc["outputs"]] == ["b", "a"]  # as requested; c not sent
    assert doc["outputs"][0]["parameters"] == {"binary_data_size": 4}
    assert doc["outputs"][1]["data"] == [1, 2]
    assert answer.body[answer.header_length :] == struct.pack("<f", 0.25)


def test_output_specs_fix_order_and_datatype() -> None:
    specs = [_spec("second", "FP32", [-1]), _spec("first", "INT32", [-1])]
    answer = encode_response(
        None,
        {"first": np.array([1.0, 2.0]), "second": np.array([3, 4])},
        model_name="m",
        output_specs=specs,
    )
    doc = json.loads(answer.body)
    assert [(o["name"], o["datatype"], o["data"]) for o in doc["outputs"]] == [
        ("second", "FP32", [3.0, 4.0]),
        ("first", "INT32", [1, 2]),
    ]


# --- every 400 ------------------------------------------------------------------------------------


def _x(**override: Any) -> dict[str, Any]:
    tensor: dict[str, Any] = {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}
    tensor.update(override)
    return tensor


BAD: list[tuple[str, bytes, int | str | None, type[errors.BadRequest], str]] = [
    ("not json", b"{inputs: [", None, errors.MalformedRequest, "not valid JSON"),
    ("not utf-8", b'{"id": "\xff"}', None, errors.MalformedRequest, "not UTF-8"),
    ("json list", b"[1, 2]", None, errors.MalformedRequest, "JSON object"),
    ("no inputs", b"{}", None, errors.MalformedRequest, "non-empty 'inputs'"),
    ("empty inputs", b'{"inputs": []}', None, errors.MalformedRequest, "non-empty 'inputs'"),
    ("id not string", _body(_x(), id=5), None, errors.MalformedRequest, "'id' must be a string"),
    ("tensor not object", b'{"inputs": [3]}', None, errors.MalformedRequest, "tensor #0"),
    ("no name", _body(_x(name="")), None, errors.MalformedRequest, "'name'"),
    ("unknown datatype", _body(_x(datatype="BF16")), None, errors.MalformedRequest, "datatype 'BF16'"),
    ("negative dim", _body(_x(shape=[-1, 3])), None, errors.MalformedRequest, "non-negative"),
    ("shape not list", _body(_x(shape="1,3")), None, errors.MalformedRequest, "'shape'"),
    (
        "no data",
        _body({"name": "x", "shape": [1, 3], "datatype": "FP32"}),
        None,
        errors.MalformedRequest,
        "neither",
    ),
    ("data not list", _body(_x(data=5)), None, errors.MalformedRequest, "JSON array"),
    ("too few", _body(_x(data=[1, 2])), None, errors.DataLengthMismatch, "holds 2 elements"),
    ("too many nested", _body(_x(data=[[1, 2, 3], [4, 5, 6]])), None, errors.DataLengthMismatch, "needs 3"),
    ("ragged", _body(_x(shape=[2, 2], data=[[1, 2], [3]])), None, errors.MalformedRequest, "ragged"),
    ("strings in FP", _body(_x(data=["1", "2", "3"])), None, errors.InvalidValue, "strings"),
    ("null in INT", _body(_x(datatype="INT32", data=[1, None, 3])), None, errors.InvalidValue, "null values"),
    ("dict in FP", _body(_x(data=[1, None, {"a": 1}])), None, errors.InvalidValue, "dict values"),
    ("bools in FP", _body(_x(data=[True, False, True])), None, errors.InvalidValue, "booleans"),
    (
        "floats in INT",
        _body(_x(datatype="INT32", data=[1.5, 2, 3])),
        None,
        errors.InvalidValue,
        "non-integer",
    ),
    ("INT8 overflow", _body(_x(datatype="INT8", data=[1, 2, 128])), None, errors.InvalidValue, "[-128, 127]"),
    ("UINT negative", _body(_x(datatype="UINT16", data=[1, -2, 3])), None, errors.InvalidValue, "[0, 65535]"),
    ("numbers in BOOL", _body(_x(datatype="BOOL", data=[1, 0, 1])), None, errors.InvalidValue, "true/false"),
    ("numbers in BYTES", _body(_x(datatype="BYTES", data=[1, 2, 3])), None, errors.InvalidValue, "strings"),
    ("FP16 overflow", _body(_x(datatype="FP16", data=[1, 2, 70000])), None, errors.InvalidValue, "too large"),
    ("dup input", _body(_x(), _x()), None, errors.MalformedRequest, "unique"),
    ("outputs not list", _body(_x(), outputs={"name": "y"}), None, errors.MalformedRequest, "'outputs'"),
    ("output no name", _body(_x(), outputs=[{}]), None, errors.MalformedRequest, "string 'name'"),
    (
        "binary_data_output not bool",
        _body(_x(), parameters={"binary_data_output": "yes"}),
        None,
        errors.MalformedRequest,
        "true or false",
    ),
    (
        "classification",
        _body(_x(), outputs=[{"name": "y", "parameters": {"class_count": 3}}]),
        None,
        errors.BadRequest,
        "classification",
    ),
    (
        "shared memory",
        _body(_x(parameters={"shared_memory_region": "r"})),
        None,
        errors.BadRequest,
        "shared-memory",
    ),
    ("header length not int", _body(_x()), "abc", errors.MalformedRequest, "must be an integer"),
    ("header length too big", _body(_x()), 10_000, errors.MalformedRequest, "body has"),
    ("header length zero", _body(_x()), 0, errors.MalformedRequest, "body has"),
]


@pytest.mark.parametrize(
    ("body", "header_length", "error", "fragment"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_malformed_requests_are_400(
    body: bytes, header_length: int | str | None, error: type[errors.BadRequest], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        parse_request(body, header_length)
    assert caught.value.status == 400
    assert fragment in caught.value.message


def _binary_body(tensors: list[dict[str, Any]], payload: bytes) -> tuple[bytes, int]:
    header = json.dumps({"inputs": tensors}).encode()
    return header + payload, len(header)


@pytest.mark.parametrize(
    ("tensor", "payload", "error", "fragment"),
    [
        (
            {"shape": [3], "datatype": "FP32", "size": 8},
            b"\0" * 8,
            errors.DataLengthMismatch,
            "holds 8 bytes",
        ),
        ({"shape": [2], "datatype": "FP32", "size": 8}, b"\0" * 4, errors.MalformedRequest, "only 4 remain"),
        ({"shape": [1], "datatype": "FP32", "size": 4}, b"\0" * 6, errors.MalformedRequest, "2 bytes"),
        ({"shape": [2], "datatype": "BOOL", "size": 2}, b"\x01\x05", errors.InvalidValue, "0 or 1"),
        (
            {"shape": [2], "datatype": "BYTES", "size": 6},
            struct.pack("<I", 2) + b"ab",
            errors.DataLengthMismatch,
            "",
        ),
        (
            {"shape": [1], "datatype": "BYTES", "size": 3},
            b"\x01\0\0",
            errors.MalformedRequest,
            "4-byte length",
        ),
        (
            {"shape": [1], "datatype": "BYTES", "size": 5},
            struct.pack("<I", 9) + b"a",
            errors.MalformedRequest,
            "past",
        ),
        (
            {"shape": [1], "datatype": "INT8", "size": -1},
            b"",
            errors.MalformedRequest,
            "non-negative integer",
        ),
    ],
)
def test_bad_binary_tensors_are_400(
    tensor: dict[str, Any], payload: bytes, error: type[errors.BadRequest], fragment: str
) -> None:
    entry = {"name": "x", "shape": tensor["shape"], "datatype": tensor["datatype"]}
    entry["parameters"] = {"binary_data_size": tensor["size"]}
    body, header_length = _binary_body([entry], payload)
    with pytest.raises(error) as caught:
        parse_request(body, header_length)
    assert caught.value.status == 400
    assert fragment in caught.value.message


SPECS = [
    TensorSpec(name="features", datatype="FP32", shape=[-1, 3]),
    TensorSpec(name="plant", datatype="INT64", shape=[-1]),
]


def _request(*tensors: dict[str, Any]) -> bytes:
    return _body(*tensors)


FEATURES = {"name": "features", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4, 5, 6]]}
PLANT = {"name": "plant", "shape": [2], "datatype": "INT64", "data": [7, 8]}


def test_valid_request_against_specs() -> None:
    request = decode_request(_request(FEATURES, PLANT), None, SPECS)
    assert request.arrays()["features"].shape == (2, 3)
    assert request.arrays()["plant"].tolist() == [7, 8]


@pytest.mark.parametrize(
    ("tensors", "error", "fragment"),
    [
        ([FEATURES, PLANT, {**PLANT, "name": "extra"}], errors.UnknownInput, "'extra' is not an input"),
        ([FEATURES], errors.MissingInput, "'plant'"),
        (
            [{**FEATURES, "datatype": "FP64"}, PLANT],
            errors.DatatypeMismatch,
            "FP64, but the component expects FP32",
        ),
        ([{**FEATURES, "shape": [3, 2], "data": [1, 2, 3, 4, 5, 6]}, PLANT], errors.ShapeMismatch, "[3, 2]"),
        ([{**FEATURES, "shape": [6], "data": [1, 2, 3, 4, 5, 6]}, PLANT], errors.ShapeMismatch, "[-1, 3]"),
    ],
)
def test_requests_not_matching_the_card_are_400(
    tensors: list[dict[str, Any]], error: type[errors.BadRequest], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        decode_request(_request(*tensors), None, SPECS)
    assert caught.value.status == 400
    assert fragment in caught.value.message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "null"])
def test_non_finite_values_refused_unless_the_card_allows_them(literal: str) -> None:
    features = '{"name": "features", "shape": [1, 3], "datatype": "FP32", "data": [1, LITERAL, 3]}'
    plant = '{"name": "plant", "shape": [1], "datatype": "INT64", "data": [1]}'
    body = ('{"inputs": [' + features.replace("LITERAL", literal) + ", " + plant + "]}").encode()
    with pytest.raises(errors.NonFiniteValue) as caught:
        decode_request(body, None, SPECS)
    assert caught.value.status == 400
    assert "1 NaN, infinite or null" in caught.value.message

    lenient = [SPECS[0].model_copy(update={"allow_non_finite": True}), SPECS[1]]
    value = decode_request(body, None, lenient).arrays()["features"][0, 1]
    assert math.isnan(value) if literal in ("NaN", "null") else math.isinf(value)


def test_non_finite_binary_values_are_refused_too() -> None:
    encoded = encode_request(
        {"features": np.array([[1, np.inf, 3]], dtype=np.float32), "plant": np.array([1])}, binary=True
    )
    with pytest.raises(errors.NonFiniteValue):
        decode_request(encoded.body, encoded.header_length, SPECS)


def test_validate_inputs_reports_unknown_before_missing() -> None:
    request = parse_request(_request({**PLANT, "name": "plnat"}, FEATURES))
    with pytest.raises(errors.UnknownInput) as caught:
        validate_inputs(request, SPECS)
    assert "its inputs are features, plant" in caught.value.message


def test_unknown_requested_output_is_400() -> None:
    request = parse_request(_body(_x(), outputs=[{"name": "nope"}]))
    with pytest.raises(errors.UnknownOutput) as caught:
        encode_response(request, {"y": np.array([1.0])}, model_name="m")
    assert caught.value.status == 400
    assert "produces only y" in caught.value.message


def test_non_utf8_bytes_output_must_be_binary() -> None:
    request = parse_request(_body(_x()))
    with pytest.raises(errors.BadRequest, match="binary_data=true"):
        encode_response(request, {"y": np.array([b"\xff"], dtype=object)}, model_name="m")
    binary = parse_request(_body(_x(), outputs=[{"name": "y", "parameters": {"binary_data": True}}]))
    answer = encode_response(binary, {"y": np.array([b"\xff"], dtype=object)}, model_name="m")
    assert parse_response(answer.body, answer.header_length).outputs["y"].tolist() == [b"\xff"]


def test_datatype_of_numpy_dtypes() -> None:
    assert datatype_of(np.dtype(np.float32)) == "FP32"
    assert datatype_of(np.dtype(np.uint64)) == "UINT64"
    assert datatype_of(np.dtype(np.bool_)) == "BOOL"
    assert datatype_of(np.dtype("U5")) == "BYTES"
    with pytest.raises(TypeError):
        datatype_of(np.dtype(np.complex64))


def test_encode_request_names_outputs() -> None:
    encoded = encode_request(
        {"x": np.array([1.0])}, outputs=[RequestedOutput("y", binary=True), RequestedOutput("z")]
    )
    doc = json.loads(encoded.body)
    assert doc["outputs"] == [{"name": "y", "parameters": {"binary_data": True}}, {"name": "z"}]
    request = parse_request(encoded.body)
    assert request.wants_binary("y") is True
    assert request.wants_binary("z") is False
