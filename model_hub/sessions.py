"""Opening an ONNX model for inference, the same way wherever it runs (a capability-centre replica, a
batch-inference job's Ray Data workers): CPU, sequential, all graph optimisations, few threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def onnx_session(model: Path | bytes, threads: int = 1) -> Any:
    """An `onnxruntime.InferenceSession` of a verified model file or its bytes.

    One intra-op thread is fastest for small models under load: requests are already parallel
    across replicas (or Ray Data tasks), and more threads only contend on a small host.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
