"""Conversion of trained models to ONNX, verified numerically before they are accepted."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from model_hub.card import NUMPY_DTYPES, Card, TensorSpec
from model_hub.errors import ConversionFailed

OPSET = 17


def sample_inputs(specs: Sequence[TensorSpec], batch: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs that match the card, with every variable dimension set to ``batch``."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = tuple(batch if d == -1 else d for d in spec.shape)
        dtype = NUMPY_DTYPES[spec.datatype]
        if spec.datatype.startswith("FP"):
            out[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif spec.datatype == "BOOL":
            out[spec.name] = rng.integers(0, 2, shape).astype(bool)
        elif spec.datatype == "BYTES":
            out[spec.name] = np.full(shape, b"x", dtype=object)
        else:
            out[spec.name] = rng.integers(0, 8, shape).astype(dtype)
    return out


def _check_inputs(card: Card, inputs: Mapping[str, np.ndarray]) -> None:
    names = [s.name for s in card.inputs]
    if sorted(inputs) != sorted(names):
        raise ConversionFailed(f"sample inputs are named {sorted(inputs)}, but the card's inputs are {names}")


def run_onnx(model: onnx.ModelProto | bytes, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    data = model if isinstance(model, bytes) else model.SerializeToString()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, dict(inputs))]


def compare_outputs(
    expected: Sequence[np.ndarray], actual: Sequence[np.ndarray], atol: float, rtol: float
) -> None:
    """The stored model (converted, or rebuilt from its files) must give the original's outputs."""
    if len(expected) != len(actual):
        raise ConversionFailed(f"the original gives {len(expected)} outputs, the stored model {len(actual)}")
    for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
        e, a = np.asarray(e), np.asarray(a)
        if e.shape != a.shape:
            a = a.reshape(e.shape) if a.size == e.size else a
        if e.shape != a.shape:
            raise ConversionFailed(f"output {i}: shape {a.shape} after conversion, {e.shape} before")
        if e.dtype.kind in "fc":
            diff = float(np.max(np.abs(e.astype(np.float64) - a.astype(np.float64)), initial=0.0))
            if not np.allclose(e, a, atol=atol, rtol=rtol):
                raise ConversionFailed(
                    f"output {i} differs from the original by up to {diff:.3g} (atol={atol}, rtol={rtol}); "
                    f"storing changed the model's numbers — check for training-only layers "
                    f"(call .eval()), unsupported operators or state kept outside the state_dict"
                )
        elif not np.array_equal(e, a):
            raise ConversionFailed(f"output {i} differs from the original after conversion")


def torch_to_onnx(
    module: Any,
    card: Card,
    inputs: Mapping[str, np.ndarray],
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> onnx.ModelProto:
    """Export a torch ``nn.Module`` with the TorchScript-based exporter and check it against torch.

    ``dynamo=False`` is deliberate: the dynamo exporter needs ``onnxscript`` and gives no benefit
    for the small feed-forward and sequence models registered here.
    """
    import torch

    _check_inputs(card, inputs)
    module = module.eval()
    names = [s.name for s in card.inputs]
    args = tuple(torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in names)
    dynamic_axes: dict[str, dict[int, str]] = {}
    for spec in [*card.inputs, *card.outputs]:
        axes = {i: f"{spec.name}_d{i}" for i, d in enumerate(spec.shape) if d == -1}
        if axes:
            dynamic_axes[spec.name] = axes
    with tempfile.TemporaryDirectory(prefix="brain-export-") as tmp:
        target = Path(tmp) / "model.onnx"
        _export(torch, module, args, target, names, card, dynamic_axes)
        model = onnx.load(str(target))
    with torch.no_grad():
        result = module(*args)
    expected = [result] if isinstance(result, torch.Tensor) else list(result)
    compare_outputs([t.detach().numpy() for t in expected], run_onnx(model, inputs), atol, rtol)
    return model


def _export(
    torch: Any,
    module: Any,
    args: tuple[Any, ...],
    target: Path,
    names: list[str],
    card: Card,
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    try:
        torch.onnx.export(
            module,
            args,
            str(target),
            input_names=names,
            output_names=[s.name for s in card.outputs],
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            dynamo=False,
        )
    except Exception as exc:
        raise ConversionFailed(f"torch.onnx.export failed: {exc}") from None


def sklearn_to_onnx(
    estimator: Any,
    card: Card,
    inputs: Mapping[str, np.ndarray],
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> onnx.ModelProto:
    """Convert a fitted scikit-learn estimator (one 2-D float input) with skl2onnx and check it."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    _check_inputs(card, inputs)
    if len(card.inputs) != 1 or len(card.inputs[0].shape) != 2:
        raise ConversionFailed("scikit-learn components take one 2-D input tensor [batch, features]")
    spec = card.inputs[0]
    tensor_type = DoubleTensorType if spec.datatype == "FP64" else FloatTensorType
    x = np.asarray(inputs[spec.name])
    is_classifier = hasattr(estimator, "predict_proba")
    options = {id(estimator): {"zipmap": False}} if is_classifier else None
    try:
        model = convert_sklearn(
            estimator,
            initial_types=[(spec.name, tensor_type([None, spec.shape[1] if spec.shape[1] > 0 else None]))],
            target_opset={"": OPSET, "ai.onnx.ml": 3},
            options=options,
        )
    except Exception as exc:
        raise ConversionFailed(f"skl2onnx could not convert {type(estimator).__name__}: {exc}") from None
    outputs = [o.name for o in model.graph.output]
    wanted = [s.name for s in card.outputs]
    if len(outputs) < len(wanted):
        raise ConversionFailed(f"the converted model has outputs {outputs}; the card asks for {wanted}")
    model = rename_outputs(model, dict(zip(outputs, wanted, strict=False)))
    try:
        expected: list[np.ndarray] = [np.asarray(estimator.predict(x))]
        if is_classifier and len(wanted) > 1:
            expected.append(np.asarray(estimator.predict_proba(x)))
    except ValueError as exc:
        raise ConversionFailed(
            f"the estimator rejects inputs shaped like the card's {spec.name!r} {spec.shape}: {exc}; "
            f"make the card's input shape match what the model was trained on"
        ) from None
    actual = run_onnx(model, inputs)[: len(expected)]
    compare_outputs(expected, actual, atol, rtol)
    return model


def rename_outputs(model: onnx.ModelProto, mapping: Mapping[str, str]) -> onnx.ModelProto:
    """Give graph outputs the card's names through Identity nodes; drop outputs not mapped."""
    graph = model.graph
    kept = []
    for out in list(graph.output):
        if out.name not in mapping:
            continue
        new = mapping[out.name]
        if new != out.name:
            graph.node.append(onnx.helper.make_node("Identity", [out.name], [new], name=f"rename_{new}"))
            out = onnx.ValueInfoProto(name=new, type=out.type)
        kept.append(out)
    del graph.output[:]
    graph.output.extend(kept)
    return model


def check_interface(model: onnx.ModelProto, card: Card) -> None:
    """The ONNX graph's inputs and outputs must be the card's, by name."""
    initializers = {t.name for t in model.graph.initializer}
    graph_inputs = sorted(i.name for i in model.graph.input if i.name not in initializers)
    graph_outputs = sorted(o.name for o in model.graph.output)
    card_inputs = sorted(s.name for s in card.inputs)
    card_outputs = sorted(s.name for s in card.outputs)
    if graph_inputs != card_inputs or graph_outputs != card_outputs:
        raise ConversionFailed(
            f"the ONNX graph has inputs {graph_inputs} and outputs {graph_outputs}, but the card "
            f"declares inputs {card_inputs} and outputs {card_outputs}; make the card match the model"
        )
