"""The Open Inference Protocol's gRPC messages, decoded into the REST codec's request and back.

The messages are `inference.GRPCInferenceService`'s as tritonclient ships them generated
(``tritonclient.grpc.service_pb2``; Triton's service is a superset of OIP's with the same names), never
hand-written. Pure, like ``oip``: a ``ModelInferRequest`` becomes the same
:class:`~deploy.centre.oip.InferenceRequest` a REST body becomes, checked by the same rules (caps from the
shapes before any array is built, the card's datatypes and shapes, finite floats) and refused with the
same error texts; the answer is a ``ModelInferResponse`` with ``raw_output_contents``, as Triton answers.

Both input encodings of the protocol are read:

- ``raw_input_contents``: one chunk per input, in input order, little-endian; BYTES elements are each a
  4-byte little-endian length and the bytes (the binary tensor extension's layout, so one reader serves
  both doors). When used, every input must have its chunk (the protocol's rule).
- typed ``contents``: ``bool_contents``, ``int_contents`` (INT8/16/32), ``int64_contents``,
  ``uint_contents`` (UINT8/16/32), ``uint64_contents``, ``fp32_contents``, ``fp64_contents``,
  ``bytes_contents``. FP16 has no typed field in the protocol: it travels raw only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tritonclient.grpc import service_pb2 as pb

from deploy.centre import oip
from deploy.centre.errors import (
    BadRequest,
    DataLengthMismatch,
    InvalidValue,
    MalformedRequest,
    PayloadTooLarge,
)
from model_hub.card import NUMPY_DTYPES, TensorSpec

__all__ = ["decode_infer", "encode_infer", "parameters_of"]

#: The typed-contents field that carries each datatype (FP16 has none: raw only).
CONTENTS_FIELD: dict[str, str] = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

_NARROW_INTEGERS = frozenset({"INT8", "INT16", "UINT8", "UINT16"})


def parameters_of(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A protobuf ``map<string, InferParameter>`` as plain values (the REST codec's parameters)."""
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        which = value.WhichOneof("parameter_choice")
        out[key] = getattr(value, which) if which is not None else None
    return out


def decode_infer(
    request: Any, specs: Sequence[TensorSpec], caps: oip.Caps, max_bytes: int
) -> oip.InferenceRequest:
    """A ``ModelInferRequest`` as the codec's request, checked against the component's input specs.

    ``max_bytes`` is BRAIN_MAX_BODY_BYTES: Serve's gRPC server takes messages up to 2 GiB, so the
    centre's own limit on a request's size is applied here, to the message as received.
    Raises a :class:`BadRequest` subclass (or PayloadTooLarge) whose text is the REST door's.
    """
    size = request.ByteSize()
    if size > max_bytes:
        raise PayloadTooLarge(size, max_bytes)
    if not request.inputs:
        raise MalformedRequest("the request needs a non-empty 'inputs' list of tensors")
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise MalformedRequest(
            f"the request has {len(request.inputs)} inputs but {len(raw)} raw_input_contents; when "
            f"raw_input_contents is used, every input needs its chunk, in input order"
        )
    spent = [0, 0]
    inputs: list[oip.InputTensor] = []
    for position, tensor in enumerate(request.inputs):
        inputs.append(_input(tensor, position, raw[position] if raw else None, caps, spent))
    names = [t.name for t in inputs]
    if len(set(names)) != len(names):
        raise MalformedRequest(f"input names must be unique, got {names}")
    outputs: list[oip.RequestedOutput] = []
    for output in request.outputs:
        parameters = parameters_of(output.parameters)
        if parameters.get("class_count"):
            raise BadRequest(
                f"output {output.name!r} asks for the classification extension (class_count), which this "
                f"server does not offer; request the raw output and rank it on your side"
            )
        if "shared_memory_region" in parameters:
            raise BadRequest(
                f"output {output.name!r} asks for shared memory, which this server does not offer"
            )
        outputs.append(oip.RequestedOutput(output.name))
    decoded = oip.InferenceRequest(
        inputs=inputs,
        id=request.id or None,
        outputs=outputs,
        parameters=parameters_of(request.parameters),
    )
    oip.validate_inputs(decoded, specs)
    return decoded


def _input(
    tensor: Any, position: int, chunk: bytes | None, caps: oip.Caps, spent: list[int]
) -> oip.InputTensor:
    name = tensor.name
    if not name:
        raise MalformedRequest(f"tensor #{position} needs a non-empty string 'name'")
    datatype = tensor.datatype
    if datatype not in NUMPY_DTYPES:
        raise MalformedRequest(
            f"tensor {name!r} has datatype {datatype!r}; use one of {', '.join(oip.DATATYPES)}"
        )
    shape = list(tensor.shape)
    if any(d < 0 for d in shape):
        raise MalformedRequest(
            f"tensor {name!r} needs a 'shape' list of non-negative integers, got {shape!r}"
        )
    oip.charge(caps, spent, datatype, shape)
    parameters = parameters_of(tensor.parameters)
    if "shared_memory_region" in parameters:
        raise BadRequest(
            f"tensor {name!r} uses the shared-memory extension, which this server does not offer; "
            f"send the data in the message (raw_input_contents or contents)"
        )
    if chunk is not None:
        if _has_contents(tensor):
            raise MalformedRequest(
                f"tensor {name!r} has both typed contents and a raw_input_contents chunk; send one"
            )
        array = oip.from_binary(name, datatype, shape, memoryview(chunk))
    else:
        array = _from_contents(tensor, name, datatype, shape)
    return oip.InputTensor(name, datatype, shape, array, parameters)


def _has_contents(tensor: Any) -> bool:
    return bool(tensor.HasField("contents") and tensor.contents.ByteSize() > 0)


def _from_contents(tensor: Any, name: str, datatype: str, shape: list[int]) -> np.ndarray:
    expected = math.prod(shape)
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise MalformedRequest(
            f"tensor {name!r} is {datatype}, which has no typed contents field in the protocol; send it in "
            f"raw_input_contents"
        )
    values = getattr(tensor.contents, field)
    if len(values) != expected:
        raise DataLengthMismatch(name, len(values), expected, shape)
    if datatype == "BYTES":
        array = np.empty(expected, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    dtype = NUMPY_DTYPES[datatype]
    if datatype in _NARROW_INTEGERS and expected:
        wide = np.fromiter(values, dtype=np.int64, count=expected)
        info = np.iinfo(dtype)
        low, high = int(wide.min()), int(wide.max())
        if low < info.min or high > info.max:
            raise InvalidValue(
                name, datatype, f"values must lie in [{info.min}, {info.max}], got {low}..{high}"
            )
        return wide.astype(dtype).reshape(shape)
    return np.fromiter(values, dtype=dtype, count=expected).reshape(shape)


def encode_infer(
    request: oip.InferenceRequest,
    outputs: Mapping[str, np.ndarray],
    *,
    model_name: str,
    model_version: str,
    output_specs: Sequence[TensorSpec],
) -> Any:
    """The component's outputs as a ``ModelInferResponse``: the outputs the request named (all, in the
    card's order, when it named none), cast to the card's datatypes, in ``raw_output_contents``."""
    specs = {s.name: s for s in output_specs}
    response = pb.ModelInferResponse(model_name=model_name, model_version=model_version, id=request.id or "")
    for name in oip.output_names(request, outputs, specs):
        spec = specs.get(name)
        datatype = spec.datatype if spec is not None else oip.datatype_of(np.asarray(outputs[name]).dtype)
        array = oip.as_datatype(outputs[name], datatype)
        response.outputs.add(name=name, datatype=datatype, shape=list(array.shape))
        response.raw_output_contents.append(oip.to_binary(array, datatype))
    return response
