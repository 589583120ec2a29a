"""Runtimes: what turns a verified artifact folder into a callable model.

One small contract (load at construction, ``predict``, ``close``) and one implementation per
format, chosen by :func:`open_runtime`. Pickle-based formats are never served: they stay private
to their owner (DESIGN.md, CVE-2024-37052…37060).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from deploy.centre.drift import DriftMonitor
from deploy.centre.errors import NotServable
from deploy.settings import PlatformSettings
from model_hub import Card, Loaded, pipeline, resolve_formula, torch_module
from model_hub.errors import HubError
from model_hub.sessions import onnx_session


class Runtime(ABC):
    """A loaded component version, ready to predict."""

    def __init__(self, loaded: Loaded) -> None:
        self.name = loaded.version.name
        self.version = loaded.version.version
        self.card: Card = loaded.card
        self.drift: DriftMonitor | None = None
        """The version's drift statistics, when it has training statistics (set by the centre)."""

    @abstractmethod
    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Inputs and outputs keyed by the card's tensor names; the batch is the first axis."""

    @property
    @abstractmethod
    def nbytes(self) -> int:
        """Approximate resident memory, for the cache's memory bound."""

    def close(self) -> None:  # noqa: B027 - most runtimes have nothing to release
        pass


@functools.cache
def onnx_threads() -> int:
    """Threads per ONNX session (`PlatformSettings.onnx_threads`), read once per process."""
    return PlatformSettings().onnx_threads


class OnnxRuntime(Runtime):
    def __init__(self, loaded: Loaded) -> None:
        super().__init__(loaded)
        path = loaded.onnx_path
        self._size = path.stat().st_size
        self.session = onnx_session(path, onnx_threads())
        self._outputs = [o.name for o in self.session.get_outputs()]
        self._input_types = {i.name: i.type for i in self.session.get_inputs()}

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self.session.run(self._outputs, inputs)
        return dict(zip(self._outputs, (np.asarray(r) for r in results), strict=True))

    @property
    def nbytes(self) -> int:
        # The session holds the weights once more after optimisation; twice the file is a fair bound.
        return 2 * self._size


class TorchRuntime(Runtime):
    """A component kept in torch: its module rebuilt from allowed code and safetensors weights."""

    def __init__(self, loaded: Loaded, allowed: list[str]) -> None:
        super().__init__(loaded)
        import torch

        # Same reasoning as onnx_threads: parallelism comes from requests, not from intra-op threads.
        # The setting is per process, so every torch component in a replica shares it.
        torch.set_num_threads(onnx_threads())
        self.module = loaded.torch_module(allowed)
        self._nbytes = torch_module.nbytes(self.module)

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return torch_module.run(self.module, self.card, inputs)

    @property
    def nbytes(self) -> int:
        return self._nbytes


class FormulaRuntime(Runtime):
    def __init__(self, loaded: Loaded, allowed: list[str]) -> None:
        super().__init__(loaded)
        entrypoint, self.parameters = loaded.formula()
        self.func: Callable[..., dict[str, Any]] = resolve_formula(entrypoint, allowed)

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = self.func(inputs, self.parameters)
        missing = [s.name for s in self.card.outputs if s.name not in result]
        if missing:
            raise HubError(f"formula of {self.name} returned no output named {missing}; fix the formula")
        return {s.name: np.asarray(result[s.name]) for s in self.card.outputs}

    @property
    def nbytes(self) -> int:
        return 64 * 1024


class PipelineRuntime(Runtime):
    """A pipeline version: its checked spec, the steps in the order they run. The centre runs the
    steps (`Centre.run_pipeline`), each through its own component's resident runtime, in this
    process: a pipeline holds no model of its own."""

    def __init__(self, loaded: Loaded) -> None:
        super().__init__(loaded)
        spec = pipeline.PipelineSpec.from_json((loaded.path / pipeline.SPEC_FILE).read_text(encoding="utf-8"))
        self.steps = pipeline.order(spec.graph)
        self.outputs = spec.graph.outputs

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotServable(f"{self.name} is a pipeline: the capability centre runs its steps")

    @property
    def nbytes(self) -> int:
        return 16 * 1024


def open_runtime(loaded: Loaded, formula_packages: list[str]) -> Runtime:
    """The runtime for a version's format."""
    fmt = loaded.version.format
    if fmt == "onnx":
        return OnnxRuntime(loaded)
    if fmt == "formula":
        return FormulaRuntime(loaded, formula_packages)
    if fmt == "torch":
        return TorchRuntime(loaded, formula_packages)
    if fmt == pipeline.FORMAT:
        return PipelineRuntime(loaded)
    raise NotServable(
        f"{loaded.version.name} version {loaded.version.version} is stored as {fmt!r}, which the "
        f"capability centre does not serve; register an ONNX, torch (safetensors) or formula "
        f"version to share it"
    )
