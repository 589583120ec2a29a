"""What the component page pre-fills and shows: a valid example input, the OIP body, and the request code.

A built-in component's example is its own (`components` knows what a plausible input is); for any other
component the example follows the input schema: ones of the tensor's datatype, -1 dimensions as 1.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import numpy as np

#: Most values shown of one output tensor in the answer's table.
SHOWN_VALUES = 200
#: Fewest points along an output's last axis that the answer draws as a line chart.
SERIES_POINTS = 8


@lru_cache(maxsize=64)
def _builtin_example(name: str) -> dict[str, list[Any]] | None:
    from components.catalog import BUILTINS

    for component in BUILTINS:
        if component.name == name:
            return {k: np.asarray(v).tolist() for k, v in component.example().items()}
    return None


def example_inputs(name: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Input name → nested list: the built-in's example, or one filled from the schema."""
    builtin = _builtin_example(name)
    if builtin is not None and set(builtin) >= {i["name"] for i in inputs}:
        return {i["name"]: builtin[i["name"]] for i in inputs}
    return {i["name"]: _filled(i["datatype"], i["shape"]) for i in inputs}


def _filled(datatype: str, shape: list[int]) -> Any:
    dims = [1 if d < 0 else d for d in shape]
    value: Any = "text" if datatype == "BYTES" else False if datatype == "BOOL" else 1
    if datatype.startswith("FP"):
        value = 1.0
    for d in reversed(dims):
        value = [value] * d
    return value


class BadInput(ValueError):
    """A try-it field that is not a JSON array of the tensor's datatype."""


def oip_body(inputs: list[dict[str, Any]], fields: dict[str, str]) -> dict[str, Any]:
    """The OIP JSON request from the try-it form's fields (one JSON array per input)."""
    tensors = []
    for spec in inputs:
        name, datatype = spec["name"], spec["datatype"]
        raw = fields.get(name)
        if raw is None or not raw.strip():
            raise BadInput(f"input {name!r} is empty; write a JSON array, e.g. the example")
        try:
            data = json.loads(raw)
            array = np.asarray(data, dtype=object if datatype == "BYTES" else None)
        except (ValueError, TypeError) as exc:
            raise BadInput(f"input {name!r} is not a JSON array: {exc}") from None
        if array.ndim == 0 or (array.dtype == object and datatype != "BYTES"):
            raise BadInput(f"input {name!r} must be a rectangular JSON array of {datatype} values")
        tensors.append(
            {"name": name, "shape": list(array.shape), "datatype": datatype, "data": array.ravel().tolist()}
        )
    return {"inputs": tensors}


def answer_view(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Each output tensor for the page: its values (shortened) and, for a numeric series, a chart's data."""
    shown = []
    for output in response.get("outputs", []):
        data = list(output.get("data", []))
        shape = list(output.get("shape", []))
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in data)
        # One row per item of the batch (the first axis), the rest flattened.
        width = len(data) // shape[0] if len(shape) >= 2 and shape[0] > 0 else len(data)
        rows = [data[i : i + width] for i in range(0, len(data), width)] if width else [data]
        # A series: numbers along the last axis, at least SERIES_POINTS of them (the 24 hours of a load
        # forecast), not a few categories or one value per row.
        series = numeric and len(shape) >= 2 and shape[-1] >= SERIES_POINTS
        chart = [[v if math.isfinite(v) else None for v in row] for row in rows[:8]] if series else None
        shown.append(
            {
                "name": output.get("name"),
                "datatype": output.get("datatype"),
                "shape": shape,
                "rows": [row[:SHOWN_VALUES] for row in rows[:50]],
                "more": len(data) > SHOWN_VALUES * 50 or width > SHOWN_VALUES,
                "chart": chart,
            }
        )
    return shown


def request_examples(centre_url: str, name: str, body: dict[str, Any], output: str) -> dict[str, str]:
    """The same call as curl, Python tritonclient and the Python OIP JSON call (httpx)."""
    compact = json.dumps(body, ensure_ascii=False)
    host = centre_url.split("://", 1)[-1]
    triton_inputs = "\n".join(
        f"x{i} = httpclient.InferInput({t['name']!r}, {t['shape']}, {t['datatype']!r})\n"
        f"x{i}.set_data_from_numpy(np.array({t['data']!r}, dtype={_np_type(t['datatype'])}).reshape("
        f"{t['shape']}))"
        for i, t in enumerate(body["inputs"])
    )
    names = ", ".join(f"x{i}" for i in range(len(body["inputs"])))
    return {
        "curl": (
            f"curl -s {centre_url}/v2/models/{name}/infer \\\n"
            f'  -H "Authorization: Bearer $BRAIN_API_KEY" -H "Content-Type: application/json" \\\n'
            f"  -d '{compact}'"
        ),
        "tritonclient": (
            "import os\nimport numpy as np\nimport tritonclient.http as httpclient\n\n"
            f"client = httpclient.InferenceServerClient({host!r})\n{triton_inputs}\n"
            f"result = client.infer({name!r}, [{names}],\n"
            "                      headers={'Authorization': 'Bearer ' + os.environ['BRAIN_API_KEY']})\n"
            f"print(result.as_numpy({output!r}))"
        ),
        "python": (
            "import os\nimport httpx\n\n"
            f"body = {compact}\n"
            f"answer = httpx.post({centre_url + '/v2/models/' + name + '/infer'!r}, json=body,\n"
            "                    headers={'Authorization': 'Bearer ' + os.environ['BRAIN_API_KEY']})\n"
            "print(answer.json()['outputs'])"
        ),
    }


def _np_type(datatype: str) -> str:
    return {"BYTES": "object", "BOOL": "bool"}.get(datatype, f"np.{datatype.lower().replace('fp', 'float')}")
