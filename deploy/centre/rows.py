"""The rows API, ``POST /api/v1/components/{name}:predict``: ``{"rows": [...]}`` for people who do not
speak OIP. One row per item, in the card's input order; the same `InferCall` as the OIP doors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from deploy.centre import oip
from deploy.centre.calls import InferCall, address_of, centre_of, key_of, read_body
from deploy.centre.errors import BadRequest, TooManyValues
from model_hub.card import NUMPY_DTYPES


async def predict_rows(request: Request, name: str) -> Response:
    """``{"rows": [...]}`` for people who do not speak OIP: one row per item, in the card's input order."""
    centre = centre_of(request)
    call = InferCall(centre, key_of(request), name, None, address_of(request))
    body = await call.step_async(read_body(request, centre.settings.max_body_bytes))
    rows = call.step(lambda: _rows_of(body, centre.caps))
    call.inputs = call.step(lambda: _rows_to_inputs(rows, call.runtime.card))
    call.rows = len(rows)
    outputs = call.predict()
    result = call.answer(outputs, lambda: {k: np.asarray(v).tolist() for k, v in outputs.items()})
    return JSONResponse({"component": name, "version": call.chosen, "outputs": _by_row(result, len(rows))})


def _rows_of(body: bytes, caps: oip.Caps) -> list[Any]:
    caps.check_json_size(body)
    try:
        doc = json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or not doc["rows"]:
        raise BadRequest('send {"rows": [row, ...]} with at least one row')
    rows: list[Any] = doc["rows"]
    if len(rows) > caps.rows:
        raise TooManyValues(f"the request has {len(rows)} rows", "rows", caps.rows)
    return rows


def _rows_to_inputs(rows: list[Any], card: Any) -> dict[str, np.ndarray]:
    specs = card.inputs
    if len(specs) == 1 and not all(isinstance(r, dict) for r in rows):
        by_input = {specs[0].name: rows}
    else:
        if not all(isinstance(r, dict) for r in rows):
            raise BadRequest(
                f"this component has inputs {[s.name for s in specs]}: send each row as an object"
            )
        by_input = {}
        for spec in specs:
            missing = [i for i, r in enumerate(rows) if spec.name not in r]
            if missing:
                raise BadRequest(f"row {missing[0]} has no value for input {spec.name!r}")
            by_input[spec.name] = [r[spec.name] for r in rows]
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        try:
            array = np.asarray(by_input[spec.name], dtype=NUMPY_DTYPES[spec.datatype])
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"input {spec.name!r} cannot be read as {spec.datatype}: {exc}") from None
        if not oip.shape_matches(list(array.shape), spec.shape):
            raise BadRequest(
                f"rows of input {spec.name!r} have shape {list(array.shape)}, the card says {spec.shape}"
            )
        if array.dtype.kind == "f" and not spec.allow_non_finite and not np.isfinite(array).all():
            raise BadRequest(
                f"input {spec.name!r} contains NaN or infinity, which this component does not accept"
            )
        arrays[spec.name] = array
    return arrays


def _by_row(outputs: dict[str, list[Any]], rows: int) -> list[dict[str, Any]]:
    return [
        {k: v[i] if isinstance(v, list) and len(v) == rows else v for k, v in outputs.items()}
        for i in range(rows)
    ]
