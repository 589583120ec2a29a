"""The codec's caps on what one request may hold, at their defaults: refused before objects are built."""

from __future__ import annotations

import contextlib
import struct
import tracemalloc
from collections.abc import Callable

import pytest

from deploy.centre import oip
from deploy.centre.errors import DataLengthMismatch, TooManyValues

MIB = 1024 * 1024


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    with contextlib.suppress(Exception):
        fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / MIB


def binary(shape: list[int], data: bytes, datatype: str = "BYTES") -> tuple[bytes, int]:
    head = oip.orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": datatype,
                    "shape": shape,
                    "parameters": {"binary_data_size": len(data)},
                }
            ]
        }
    )
    return head + data, len(head)


EMPTY_16MIB = struct.pack("<I", 0) * (4 * MIB)  # 4 Mi empty BYTES elements


@pytest.mark.parametrize("shape", [[4 * MIB], [1], [2048, 2048]])
def test_16_mib_of_empty_binary_bytes_elements_never_becomes_millions_of_objects(shape: list[int]) -> None:
    body, length = binary(shape, EMPTY_16MIB)
    with pytest.raises((TooManyValues, DataLengthMismatch)) as refused:
        oip.parse_request(body, length)
    assert "over the cap of 65536 BYTES elements" in str(refused.value) or "elements or more" in str(
        refused.value
    )
    # A list of 4 Mi bytes objects would take well over 100 MiB; the body itself is 16 MiB.
    assert peak_mib(lambda: oip.parse_request(body, length)) < 8


def test_16_mib_of_empty_json_strings_is_refused_before_parsing() -> None:
    body = b'{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":[' + b'"",' * (5 * MIB) + b'""]}]}'
    with pytest.raises(TooManyValues, match="over the cap of 65536 BYTES elements"):
        oip.parse_request(body)
    assert peak_mib(lambda: oip.parse_request(body)) < 8


def test_json_numbers_over_the_element_cap_are_refused_before_parsing() -> None:
    body = b'{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[' + b"0," * (5 * MIB) + b"0]}]}"
    with pytest.raises(TooManyValues, match="over the cap of 4194304 tensor elements"):
        oip.parse_request(body)
    assert peak_mib(lambda: oip.parse_request(body)) < 8


def test_caps_are_per_request_and_name_the_setting() -> None:
    caps = oip.Caps(elements=10, bytes_elements=4, rows=3)
    two = {"inputs": [{"name": n, "datatype": "FP32", "shape": [2, 3], "data": [0] * 6} for n in "ab"]}
    with pytest.raises(
        TooManyValues, match="12 elements, over the cap of 10 tensor elements.*BRAIN_MAX_TENSOR_ELEMENTS"
    ):
        oip.parse_request(oip.orjson.dumps(two), None, caps)
    rows = {"inputs": [{"name": "a", "datatype": "FP32", "shape": [4, 1], "data": [0] * 4}]}
    with pytest.raises(TooManyValues, match="4 rows, over the cap of 3 rows.*BRAIN_MAX_ROWS"):
        oip.parse_request(oip.orjson.dumps(rows), None, caps)
    within = {
        "inputs": [{"name": "a", "datatype": "BYTES", "shape": [2, 2], "data": [["a", "b"], ["c", "d"]]}]
    }
    assert oip.parse_request(oip.orjson.dumps(within), None, caps).inputs[0].array.shape == (2, 2)


def test_a_large_body_within_the_caps_still_parses() -> None:
    import numpy as np

    encoded = oip.encode_request({"x": np.zeros((4096, 256), dtype=np.float32)})
    assert oip.parse_request(encoded.body).inputs[0].array.shape == (4096, 256)
    encoded = oip.encode_request({"x": np.zeros((4096, 256), dtype=np.float32)}, binary=True)
    assert oip.parse_request(encoded.body, encoded.header_length).inputs[0].array.shape == (4096, 256)
