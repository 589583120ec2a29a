"""Small ONNX models built in code for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data


def linear(
    n_in: int = 4, n_out: int = 1, seed: int = 0, in_name: str = "x", out_name: str = "y"
) -> onnx.ModelProto:
    """y = x @ W + b, with a variable batch dimension."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((n_in, n_out)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(n_out).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [in_name, "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], [out_name]),
        ],
        "linear",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", n_out])],
        initializer=[w, b],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def custom_domain() -> onnx.ModelProto:
    """A model that calls an operator from a non-standard domain."""
    graph = helper.make_graph(
        [helper.make_node("Evil", ["x"], ["y"], domain="com.example.evil")],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example.evil", 1)]
    )


def with_external_data(folder: Path, location: str) -> Path:
    """Save ``linear()`` to ``folder/model.onnx`` with W's data referenced at ``location``."""
    folder.mkdir(parents=True, exist_ok=True)
    model = linear()
    w = next(t for t in model.graph.initializer if t.name == "W")
    raw = numpy_helper.to_array(w).tobytes()
    set_external_data(w, location=location, offset=0, length=len(raw))
    w.ClearField("float_data")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    return path
