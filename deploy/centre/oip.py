"""The Open Inference Protocol (KServe V2) REST codec: bodies in, numpy arrays out, and back.

Pure: no HTTP framework, no I/O. The gateway hands over the raw body and the value of the
``Inference-Header-Content-Length`` header; it gets back an :class:`InferenceRequest` of numpy arrays,
or a :class:`~deploy.centre.errors.BadRequest` subclass whose message says what was wrong.

Both tensor encodings are understood:

- JSON: ``data`` flat or nested, row-major; BYTES elements are strings.
- The binary tensor extension (what tritonclient sends by default): the JSON header is followed by raw
  little-endian tensor bytes, one chunk per input that carries ``parameters.binary_data_size``, in input
  order. BYTES elements are each a 4-byte little-endian length followed by the bytes. Outputs are
  returned the same way when asked for with ``binary_data`` (per output) or ``binary_data_output``
  (per request).

Fields the protocol does not define (KServe's client adds ``model_name``) and unknown parameters are
ignored, as the protocol asks.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from deploy.centre.errors import (
    BadRequest,
    DataLengthMismatch,
    DatatypeMismatch,
    InvalidValue,
    MalformedRequest,
    MissingInput,
    NonFiniteValue,
    ShapeMismatch,
    TooManyValues,
    UnknownInput,
    UnknownOutput,
)
from model_hub.card import NUMPY_DTYPES, TensorSpec

__all__ = [
    "DATATYPES",
    "FLOATS",
    "Caps",
    "EncodedBody",
    "InferenceRequest",
    "InferenceResponse",
    "InputTensor",
    "RequestedOutput",
    "as_datatype",
    "charge",
    "datatype_of",
    "decode_request",
    "encode_request",
    "encode_response",
    "from_binary",
    "output_names",
    "parse_request",
    "parse_response",
    "shape_matches",
    "to_binary",
    "validate_inputs",
]

DATATYPES: tuple[str, ...] = tuple(NUMPY_DTYPES)
FLOATS = frozenset({"FP16", "FP32", "FP64"})

_INTEGERS = frozenset({"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"})
_LENGTH = struct.Struct("<I")
_NO_BINARY = memoryview(b"")


@dataclass(frozen=True)
class Caps:
    """What one request may hold (PlatformSettings.max_tensor_elements, max_bytes_elements, max_rows).

    Checked from the shapes before arrays are built, and from a count of separators before a large JSON
    body is parsed: a body within the size limit must not become millions of Python objects.
    """

    elements: int = 4 * 1024 * 1024
    bytes_elements: int = 65_536
    rows: int = 65_536

    def check_json_size(self, head: bytes | str) -> None:
        """Refuse a JSON body with more values than the caps allow, before it is parsed.

        Every value after the first in an array follows a comma, and every string sits between two
        quotes, so counting those bounds the values. A count of one character is a C loop over the
        body, and it runs only for bodies large enough to exceed a cap.
        """
        raw = head.encode("utf-8", "replace") if isinstance(head, str) else head
        if len(raw) > 2 * self.bytes_elements:  # "", per string at least
            quotes = raw.count(b'"')
            if quotes > 2 * (self.bytes_elements + _FIELD_SLACK):
                raise TooManyValues(
                    f"the request holds about {quotes // 2} strings", "BYTES elements", self.bytes_elements
                )
        if len(raw) > 2 * self.elements:  # 0, per value at least
            commas = raw.count(b",")
            if commas > self.elements + _FIELD_SLACK:
                raise TooManyValues(
                    f"the request holds about {commas} values", "tensor elements", self.elements
                )


#: Commas that are not between values (fields of the request and tensor objects).
_FIELD_SLACK = 4096


# --- what a request and a response are ----------------------------------------------------------


@dataclass(frozen=True)
class InputTensor:
    name: str
    datatype: str
    shape: list[int]
    array: np.ndarray
    """Shaped as ``shape``. Binary inputs are read-only views of the body (no copy); BYTES are an object
    array of ``bytes``."""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool | None = None
    """None: follow the request's ``binary_data_output``."""


@dataclass(frozen=True)
class InferenceRequest:
    inputs: list[InputTensor]
    id: str | None = None
    outputs: list[RequestedOutput] = field(default_factory=list)
    """Empty: every output the component produces."""
    parameters: dict[str, Any] = field(default_factory=dict)
    binary_outputs: bool = False
    """The request-level ``binary_data_output`` parameter (tritonclient sets it when it names no outputs)."""

    def arrays(self) -> dict[str, np.ndarray]:
        return {t.name: t.array for t in self.inputs}

    def wants_binary(self, output: str) -> bool:
        for requested in self.outputs:
            if requested.name == output and requested.binary is not None:
                return requested.binary
        return self.binary_outputs


@dataclass(frozen=True)
class InferenceResponse:
    model_name: str
    outputs: dict[str, np.ndarray]
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EncodedBody:
    """An encoded request or response body with the headers that must go with it."""

    body: bytes
    header_length: int | None = None
    """Length of the JSON header when binary tensors follow it; None for a pure JSON body."""

    @property
    def content_type(self) -> str:
        return "application/json" if self.header_length is None else "application/octet-stream"

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": self.content_type}
        if self.header_length is not None:
            headers["Inference-Header-Content-Length"] = str(self.header_length)
        return headers


# --- requests: parse, validate --------------------------------------------------------------------


def decode_request(
    body: bytes | bytearray | memoryview | str,
    header_length: int | str | None,
    specs: Sequence[TensorSpec],
    caps: Caps | None = None,
) -> InferenceRequest:
    """Parse a request body and check it against the component's input specs (the gateway's one call)."""
    request = parse_request(body, header_length, caps)
    validate_inputs(request, specs)
    return request


def parse_request(
    body: bytes | bytearray | memoryview | str,
    header_length: int | str | None = None,
    caps: Caps | None = None,
) -> InferenceRequest:
    """Parse an inference request body into numpy arrays, checking it is well formed on its own terms.

    ``header_length`` is the ``Inference-Header-Content-Length`` header (None when absent); ``caps``
    what one request may hold (the defaults of :class:`Caps` when None).
    Raises a :class:`BadRequest` subclass.
    """
    caps = caps or _DEFAULT_CAPS
    head, binary = _split_body(body, header_length)
    caps.check_json_size(head)
    doc = _load_json(head)
    if not isinstance(doc, dict):
        raise MalformedRequest("the request body must be a JSON object with an 'inputs' list")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise MalformedRequest(f"'id' must be a string, got {type(request_id).__name__}")
    parameters = _parameters(doc.get("parameters"), "the request")
    binary_outputs = _flag(parameters, "binary_data_output", "the request")

    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise MalformedRequest("the request needs a non-empty 'inputs' list of tensors")
    inputs: list[InputTensor] = []
    offset = 0
    spent = [0, 0]  # tensor elements, BYTES elements: of the inputs so far
    for position, raw in enumerate(raw_inputs):
        tensor, used = _parse_input(raw, position, binary, offset, caps, spent)
        inputs.append(tensor)
        offset += used
    if offset != len(binary):
        raise MalformedRequest(
            f"{len(binary) - offset} bytes of binary data follow the JSON header but no input claims them; "
            f"each binary input must give its size in parameters.binary_data_size"
        )
    names = [t.name for t in inputs]
    if len(set(names)) != len(names):
        raise MalformedRequest(f"input names must be unique, got {names}")

    raw_outputs = doc.get("outputs")
    if raw_outputs is not None and not isinstance(raw_outputs, list):
        raise MalformedRequest("'outputs' must be a list of {\"name\": ...} objects")
    outputs = [_parse_requested_output(raw) for raw in raw_outputs or []]
    return InferenceRequest(
        inputs=inputs, id=request_id, outputs=outputs, parameters=parameters, binary_outputs=binary_outputs
    )


def validate_inputs(request: InferenceRequest, specs: Sequence[TensorSpec]) -> None:
    """Check the request's tensors against the component's input specs; raise a BadRequest subclass."""
    by_name = {s.name: s for s in specs}
    for tensor in request.inputs:
        spec = by_name.get(tensor.name)
        if spec is None:
            raise UnknownInput(tensor.name, list(by_name))
        if tensor.datatype != spec.datatype:
            raise DatatypeMismatch(tensor.name, tensor.datatype, spec.datatype)
        if not shape_matches(tensor.shape, spec.shape):
            raise ShapeMismatch(tensor.name, tensor.shape, spec.shape)
        if tensor.datatype in FLOATS and not spec.allow_non_finite:
            finite = np.isfinite(tensor.array)
            if not finite.all():
                raise NonFiniteValue(tensor.name, int(finite.size - np.count_nonzero(finite)))
    sent = {t.name for t in request.inputs}
    missing = [s.name for s in specs if s.name not in sent]
    if missing:
        raise MissingInput(missing)


def shape_matches(shape: Sequence[int], spec: Sequence[int]) -> bool:
    """Same rank, and every dimension equal unless the spec's is -1 (variable)."""
    return len(shape) == len(spec) and all(s == -1 or s == d for d, s in zip(shape, spec, strict=True))


# --- responses: encode ----------------------------------------------------------------------------


def encode_response(
    request: InferenceRequest | None,
    outputs: Mapping[str, np.ndarray],
    *,
    model_name: str,
    model_version: str | None = None,
    output_specs: Sequence[TensorSpec] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> EncodedBody:
    """Encode a component's outputs as the answer to ``request``, with the response's ``parameters``
    when there are any.

    Returns the outputs the request named (all of them, in spec order, when it named none), each as JSON
    data or as a binary chunk as the request asked. With ``output_specs`` the arrays are cast to the
    card's datatypes, so the response says what the card promised.
    """
    specs = {s.name: s for s in output_specs or []}
    names = output_names(request, outputs, specs)
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    finite = True
    for name in names:
        spec = specs.get(name)
        datatype = spec.datatype if spec is not None else datatype_of(np.asarray(outputs[name]).dtype)
        binary = request is not None and request.wants_binary(name)
        entry, entry_finite = _tensor_entry(
            name, as_datatype(outputs[name], datatype), datatype, binary, chunks
        )
        entries.append(entry)
        finite = finite and entry_finite

    doc: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        doc["model_version"] = model_version
    if request is not None and request.id is not None:
        doc["id"] = request.id
    if parameters:
        doc["parameters"] = dict(parameters)
    doc["outputs"] = entries
    return _assemble(doc, chunks, finite)


def output_names(
    request: InferenceRequest | None, outputs: Mapping[str, np.ndarray], specs: Mapping[str, TensorSpec]
) -> list[str]:
    """The outputs an answer carries: those the request named (UnknownOutput for one the component does
    not produce), else all of them, the card's in its order first."""
    if request is not None and request.outputs:
        names = [o.name for o in request.outputs]
        for name in names:
            if name not in outputs:
                raise UnknownOutput(name, list(outputs))
        return names
    return [n for n in specs if n in outputs] + [n for n in outputs if n not in specs]


def _tensor_entry(
    name: str, array: np.ndarray, datatype: str, binary: bool, chunks: list[bytes]
) -> tuple[dict[str, Any], bool]:
    """One tensor of a request or response: JSON data, or a binary chunk appended to ``chunks``.

    Also says whether its JSON data is finite (orjson cannot write NaN or infinity; see _assemble).
    """
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
    if binary:
        raw = to_binary(array, datatype)
        entry["parameters"] = {"binary_data_size": len(raw)}
        chunks.append(raw)
        return entry, True
    entry["data"] = _to_json_data(array, datatype, name)
    return entry, datatype not in FLOATS or bool(np.isfinite(array).all())


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The OIP datatype of a numpy dtype; TypeError for dtypes the protocol cannot carry (complex, ...)."""
    if dtype.kind in "OSU":
        return "BYTES"
    for name, candidate in NUMPY_DTYPES.items():
        if name != "BYTES" and candidate.kind == dtype.kind and candidate.itemsize == dtype.itemsize:
            return name
    raise TypeError(f"numpy dtype {dtype} has no Open Inference Protocol datatype")


# --- the client side: used by tests, the benchmark and `brain` commands ---------------------------


def encode_request(
    inputs: Mapping[str, np.ndarray],
    *,
    binary: bool = False,
    request_id: str | None = None,
    outputs: Sequence[RequestedOutput] = (),
    binary_outputs: bool = False,
) -> EncodedBody:
    """Encode numpy arrays as an inference request, as JSON or with binary tensors."""
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    finite = True
    for name, value in inputs.items():
        array = np.asarray(value)
        datatype = datatype_of(array.dtype)
        entry, entry_finite = _tensor_entry(name, as_datatype(array, datatype), datatype, binary, chunks)
        entries.append(entry)
        finite = finite and entry_finite
    doc: dict[str, Any] = {}
    if request_id is not None:
        doc["id"] = request_id
    if binary_outputs:
        doc["parameters"] = {"binary_data_output": True}
    doc["inputs"] = entries
    if outputs:
        doc["outputs"] = [
            {"name": o.name}
            if o.binary is None
            else {"name": o.name, "parameters": {"binary_data": o.binary}}
            for o in outputs
        ]
    return _assemble(doc, chunks, finite)


def parse_response(
    body: bytes | bytearray | memoryview | str, header_length: int | str | None = None
) -> InferenceResponse:
    """Decode an inference response body (JSON or with binary outputs) into numpy arrays."""
    head, binary = _split_body(body, header_length)
    doc = _load_json(head)
    if not isinstance(doc, dict) or not isinstance(doc.get("outputs"), list):
        raise MalformedRequest("the response body must be a JSON object with an 'outputs' list")
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for position, raw in enumerate(doc["outputs"]):
        tensor, used = _parse_input(raw, position, binary, offset)
        arrays[tensor.name] = tensor.array
        offset += used
    return InferenceResponse(
        model_name=str(doc.get("model_name", "")),
        outputs=arrays,
        model_version=doc.get("model_version"),
        id=doc.get("id"),
        parameters=_parameters(doc.get("parameters"), "the response"),
    )


# --- internals ------------------------------------------------------------------------------------


_DEFAULT_CAPS = Caps()


def charge(caps: Caps, spent: list[int], datatype: str, shape: list[int]) -> None:
    """Count one tensor against the request's caps, from its declared shape, before its data is read.

    The data can never hold more elements than the shape declares (the two are checked to agree).
    """
    count = math.prod(shape)
    spent[0] += count
    if datatype == "BYTES":
        spent[1] += count
        if spent[1] > caps.bytes_elements:
            raise TooManyValues(
                f"the request's BYTES tensors hold {spent[1]} elements", "BYTES elements", caps.bytes_elements
            )
    if spent[0] > caps.elements:
        raise TooManyValues(
            f"the request's tensors hold {spent[0]} elements", "tensor elements", caps.elements
        )
    if shape and shape[0] > caps.rows:
        raise TooManyValues(f"the request has {shape[0]} rows", "rows", caps.rows)


def _split_body(
    body: bytes | bytearray | memoryview | str, header_length: int | str | None
) -> tuple[bytes | str, memoryview]:
    if header_length is None:
        # The common case (pure JSON) takes no copy at all.
        return (body if isinstance(body, bytes | str) else bytes(body)), _NO_BINARY
    if isinstance(body, str):
        raise MalformedRequest("a body with binary tensors must be sent as bytes")
    view = memoryview(body)
    try:
        length = int(header_length)
    except (TypeError, ValueError):
        raise MalformedRequest(
            f"Inference-Header-Content-Length must be an integer, got {header_length!r}"
        ) from None
    if not 0 < length <= len(view):
        raise MalformedRequest(
            f"Inference-Header-Content-Length is {length} but the body has {len(view)} bytes; it must give "
            f"the length of the JSON header that starts the body"
        )
    # The binary part stays a view of the body: large tensors are not copied.
    return bytes(view[:length]), view[length:]


def _load_json(head: bytes | str) -> Any:
    # orjson is several times faster on the hot path. Anything it refuses goes through Python's json,
    # which also reads NaN/Infinity literals (some clients send them; the spec check then refuses them
    # with a clear message where the card does not allow them), integers past 64 bits, and says
    # precisely where malformed JSON goes wrong.
    try:
        return orjson.loads(head)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(head)
    except UnicodeDecodeError:
        raise MalformedRequest(
            "the request body is not UTF-8 text (binary tensors need the "
            "Inference-Header-Content-Length header)"
        ) from None
    except json.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _parameters(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MalformedRequest(f"'parameters' of {where} must be a JSON object")
    return raw


def _flag(parameters: dict[str, Any], key: str, where: str) -> bool:
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        raise MalformedRequest(f"parameter {key!r} of {where} must be true or false, got {value!r}")
    return value


def _parse_input(
    raw: Any,
    position: int,
    binary: memoryview,
    offset: int,
    caps: Caps | None = None,
    spent: list[int] | None = None,
) -> tuple[InputTensor, int]:
    """One tensor object (request input or response output) → (tensor, binary bytes it used).

    With ``caps``, the tensor is counted into ``spent`` against them before its data is read.
    """
    if not isinstance(raw, dict):
        raise MalformedRequest(f"tensor #{position} must be a JSON object with name, shape, datatype, data")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise MalformedRequest(f"tensor #{position} needs a non-empty string 'name'")
    datatype = raw.get("datatype")
    if datatype not in NUMPY_DTYPES:
        raise MalformedRequest(
            f"tensor {name!r} has datatype {datatype!r}; use one of {', '.join(DATATYPES)}"
        )
    shape = raw.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise MalformedRequest(
            f"tensor {name!r} needs a 'shape' list of non-negative integers, got {shape!r}"
        )
    if caps is not None and spent is not None:
        charge(caps, spent, datatype, shape)
    parameters = _parameters(raw.get("parameters"), f"tensor {name!r}")
    if "shared_memory_region" in parameters:
        raise BadRequest(
            f"tensor {name!r} uses the shared-memory extension, which this server does not offer; "
            f"send the data in the body (JSON or binary)"
        )

    size = parameters.get("binary_data_size")
    if size is None:
        if "data" not in raw:
            raise MalformedRequest(f"tensor {name!r} has neither 'data' nor parameters.binary_data_size")
        return InputTensor(
            name, datatype, shape, _from_json(name, datatype, shape, raw["data"]), parameters
        ), 0
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MalformedRequest(f"binary_data_size of tensor {name!r} must be a non-negative integer")
    if offset + size > len(binary):
        raise MalformedRequest(
            f"tensor {name!r} claims {size} binary bytes but only {len(binary) - offset} remain after the "
            f"JSON header; check Inference-Header-Content-Length and binary_data_size"
        )
    array = from_binary(name, datatype, shape, binary[offset : offset + size])
    return InputTensor(name, datatype, shape, array, parameters), size


def _parse_requested_output(raw: Any) -> RequestedOutput:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise MalformedRequest("each entry of 'outputs' must be an object with a string 'name'")
    name: str = raw["name"]
    parameters = _parameters(raw.get("parameters"), f"output {name!r}")
    if parameters.get("class_count"):
        raise BadRequest(
            f"output {name!r} asks for the classification extension (class_count), which this server "
            f"does not offer; request the raw output and rank it on your side"
        )
    if "shared_memory_region" in parameters:
        raise BadRequest(f"output {name!r} asks for shared memory, which this server does not offer")
    binary = parameters.get("binary_data")
    if binary is not None and not isinstance(binary, bool):
        raise MalformedRequest(f"parameter 'binary_data' of output {name!r} must be true or false")
    return RequestedOutput(name, binary)


def _from_json(name: str, datatype: str, shape: list[int], data: Any) -> np.ndarray:
    if not isinstance(data, list):
        raise MalformedRequest(f"'data' of tensor {name!r} must be a JSON array (flat or nested)")
    expected = math.prod(shape)
    if datatype == "BYTES":
        flat: list[bytes] = []
        _flatten_bytes(name, data, flat)
        if len(flat) != expected:
            raise DataLengthMismatch(name, len(flat), expected, shape)
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)

    try:
        raw = np.asarray(data)
    except (ValueError, OverflowError):
        raise MalformedRequest(
            f"'data' of tensor {name!r} is ragged or holds mixed types: nested lists must all have the same "
            f"length and hold only numbers" + (" or booleans" if datatype == "BOOL" else "")
        ) from None
    if raw.size != expected:
        raise DataLengthMismatch(name, int(raw.size), expected, shape)
    if raw.size and datatype in FLOATS and raw.dtype.kind == "O":
        # null is how orjson (KServe's client) and JavaScript write NaN; read it back as NaN so the
        # card's allow_non_finite decides, as for a NaN literal.
        raw = _floats_with_nulls(name, datatype, data)
    if raw.size and datatype in _INTEGERS and raw.dtype.kind in "fO":
        # numpy infers float64 (or object) for lists that mix 64-bit extremes, e.g. 2**64-1 with small
        # ints; converting through float would lose digits, so check and convert exactly.
        return _exact_integers(name, datatype, data).reshape(shape)
    if raw.size:
        _check_json_kind(name, datatype, raw)
    with np.errstate(over="ignore", invalid="ignore"):
        array = raw.astype(NUMPY_DTYPES[datatype], copy=False)
    if datatype in FLOATS and array.itemsize < raw.itemsize and raw.size and not np.isfinite(array).all():
        # A finite value that overflows a narrower type (FP16 stops at 65504) would silently become inf.
        overflow = np.isfinite(raw) & ~np.isfinite(array)
        if overflow.any():
            raise InvalidValue(name, datatype, f"{int(overflow.sum())} value(s) are too large for {datatype}")
    return array.reshape(shape)


def _check_json_kind(name: str, datatype: str, raw: np.ndarray) -> None:
    kind = raw.dtype.kind
    if datatype == "BOOL":
        if kind != "b":
            raise InvalidValue(name, datatype, "values must be JSON true/false")
        return
    if kind not in "iuf":
        what = "strings" if kind in "US" else "booleans" if kind == "b" else "values that are not numbers"
        raise InvalidValue(name, datatype, f"holds {what}; send JSON numbers")
    if datatype in _INTEGERS:
        if kind == "f":
            raise InvalidValue(
                name, datatype, "holds non-integer numbers; send integers or declare an FP type"
            )
        info = np.iinfo(NUMPY_DTYPES[datatype])
        low, high = raw.min(), raw.max()
        if low < info.min or high > info.max:
            raise InvalidValue(
                name, datatype, f"values must lie in [{info.min}, {info.max}], got {low}..{high}"
            )


def _floats_with_nulls(name: str, datatype: str, data: list[Any]) -> np.ndarray:
    flat = np.asarray(data, dtype=object).ravel().tolist()
    for v in flat:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise InvalidValue(name, datatype, f"holds {type(v).__name__} values; send JSON numbers")
    return np.array([math.nan if v is None else v for v in flat], dtype=np.float64)


def _exact_integers(name: str, datatype: str, data: list[Any]) -> np.ndarray:
    flat = np.asarray(data, dtype=object).ravel().tolist()
    if any(v is None for v in flat):
        raise InvalidValue(name, datatype, "holds null values; integer tensors have no missing-value marker")
    if not all(type(v) is int for v in flat):
        raise InvalidValue(name, datatype, "holds non-integer numbers; send integers or declare an FP type")
    info = np.iinfo(NUMPY_DTYPES[datatype])
    low, high = min(flat), max(flat)
    if low < info.min or high > info.max:
        raise InvalidValue(name, datatype, f"values must lie in [{info.min}, {info.max}], got {low}..{high}")
    return np.array(flat, dtype=NUMPY_DTYPES[datatype])


def _flatten_bytes(name: str, data: list[Any], out: list[bytes]) -> None:
    for item in data:
        if isinstance(item, list):
            _flatten_bytes(name, item, out)
        elif isinstance(item, str):
            out.append(item.encode("utf-8"))
        else:
            raise InvalidValue(name, "BYTES", f"elements must be strings, got {type(item).__name__}")


def from_binary(name: str, datatype: str, shape: list[int], chunk: memoryview) -> np.ndarray:
    expected = math.prod(shape)
    if datatype == "BYTES":
        return _bytes_from_binary(name, chunk, expected).reshape(shape)
    dtype = NUMPY_DTYPES[datatype]
    if len(chunk) != expected * dtype.itemsize:
        raise DataLengthMismatch(name, len(chunk), expected * dtype.itemsize, shape, unit="bytes")
    if datatype == "BOOL" and len(chunk) and np.frombuffer(chunk, dtype=np.uint8).max() > 1:
        raise InvalidValue(name, datatype, "binary BOOL elements must be the bytes 0 or 1")
    return np.frombuffer(chunk, dtype=dtype).reshape(shape)


def _bytes_from_binary(name: str, chunk: memoryview, expected: int) -> np.ndarray:
    items: list[bytes] = []
    pos = 0
    while pos < len(chunk):
        if len(items) == expected:  # more data than the shape declares: never build the extra objects
            raise DataLengthMismatch(name, expected + 1, expected, [expected], unit="elements or more")
        if pos + 4 > len(chunk):
            raise MalformedRequest(f"binary BYTES tensor {name!r} ends inside an element's 4-byte length")
        (length,) = _LENGTH.unpack_from(chunk, pos)
        pos += 4
        if pos + length > len(chunk):
            raise MalformedRequest(f"binary BYTES tensor {name!r}: an element runs past the end of its data")
        items.append(bytes(chunk[pos : pos + length]))
        pos += length
    if len(items) != expected:
        raise DataLengthMismatch(name, len(items), expected, [expected])
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def as_datatype(value: Any, datatype: str) -> np.ndarray:
    array = np.asarray(value)
    if datatype == "BYTES":
        if array.dtype.kind == "O":
            return array
        out = np.empty(array.shape, dtype=object)
        out.ravel()[:] = [
            v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.ravel().tolist()
        ]
        return out
    return array.astype(NUMPY_DTYPES[datatype], copy=False)


def to_binary(array: np.ndarray, datatype: str) -> bytes:
    if datatype != "BYTES":
        return np.ascontiguousarray(array, dtype=NUMPY_DTYPES[datatype]).tobytes()
    parts: list[bytes] = []
    for item in array.ravel().tolist():
        raw = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(_LENGTH.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _to_json_data(array: np.ndarray, datatype: str, name: str) -> list[Any]:
    flat: list[Any] = array.ravel().tolist()
    if datatype != "BYTES":
        return flat
    try:
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in flat]
    except UnicodeDecodeError:
        raise BadRequest(
            f"tensor {name!r} holds bytes that are not UTF-8 text and cannot be sent as JSON; ask for it "
            f"as binary (parameters.binary_data=true)"
        ) from None


def _assemble(doc: dict[str, Any], chunks: list[bytes], finite: bool = True) -> EncodedBody:
    # orjson writes NaN and infinity as null; Python's json keeps them as the literals clients of
    # this server have always read, so it takes the rare non-finite answer.
    head = orjson.dumps(doc) if finite else json.dumps(doc, separators=(",", ":")).encode("utf-8")
    if not chunks:
        return EncodedBody(head)
    return EncodedBody(head + b"".join(chunks), header_length=len(head))
