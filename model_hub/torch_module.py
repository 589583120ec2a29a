"""Components kept in torch: code from a trusted package, weights in safetensors.

Some components cannot go through ONNX (Python control flow in ``forward``, operators the
exporter lacks), so they are served by torch itself. The usual torch archives are unsafe to share:
``torch.save``/``.pt``, TorchScript and ``torch.export``'s ``.pt2`` all unpickle parts of the file
(``torch.export.load`` reads pickled weights with ``weights_only=False``), and unpickling can run
the uploader's code (CVE-2024-37052…37060 for MLflow; CVE-2025-32434 even for ``weights_only``).

So a torch version is stored as two plain files and rebuilt from them:

- ``torch.json``: ``{"entrypoint": "pkg.module:Factory", "config": {...}}`` — a class or function in
  one of the platform's allowed code packages (the same list formula components draw from), called
  with the JSON ``config`` to build the ``nn.Module``;
- ``weights.safetensors``: its ``state_dict``, a format of raw tensors that cannot carry code.

Registration rebuilds the module from these two files and checks it gives the same outputs as the
module it was given, so what is served is exactly what was verified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_hub.card import Card
from model_hub.code import resolve_entrypoint
from model_hub.errors import ConversionFailed, TorchRejected

SPEC = "torch.json"
WEIGHTS = "weights.safetensors"


def entrypoint_of(module: Any) -> str:
    """``package.module:Class`` of a module instance (nested classes are not importable by name)."""
    cls = type(module)
    if "<locals>" in cls.__qualname__ or "." in cls.__qualname__:
        raise TorchRejected(
            f"{cls.__qualname__} is defined inside a function or class; define it at module level in an "
            f"allowed package so the capability centre can import it"
        )
    return f"{cls.__module__}:{cls.__qualname__}"


def save(folder: Path, module: Any, entrypoint: str, config: Mapping[str, Any]) -> None:
    """Write ``torch.json`` and ``weights.safetensors`` for ``module`` into ``folder``."""
    from safetensors.torch import save_model

    try:
        spec = json.dumps({"entrypoint": entrypoint, "config": dict(config)}, ensure_ascii=False, indent=1)
    except (TypeError, ValueError) as exc:
        raise TorchRejected(f"the module's config must be plain JSON: {exc}") from None
    (folder / SPEC).write_text(spec, encoding="utf-8")
    # save_model (not save_file) keeps tied weights: it stores a shared tensor once.
    save_model(module, str(folder / WEIGHTS))


def build(folder: Path, allowed: list[str]) -> Any:
    """Rebuild the module stored in ``folder``: import its factory, call it with the config, load the
    weights strictly (a missing or extra tensor is an error, never a silently random layer)."""
    from safetensors.torch import load_model

    spec = json.loads((folder / SPEC).read_text(encoding="utf-8"))
    factory = resolve_entrypoint(spec["entrypoint"], allowed, "torch module", TorchRejected)
    try:
        module = factory(**spec["config"])
    except Exception as exc:
        raise TorchRejected(
            f"building {spec['entrypoint']} with config {spec['config']} failed: {exc}"
        ) from None
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TorchRejected(f"{spec['entrypoint']} returned {type(module).__name__}, not a torch.nn.Module")
    try:
        load_model(module, str(folder / WEIGHTS), strict=True)
    except (RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TorchRejected(f"the stored weights do not fit {spec['entrypoint']}: {first}") from None
    return module.eval()


def run(module: Any, card: Card, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Call ``module`` with the card's inputs in card order; name its outputs by the card.

    ``forward`` may return one tensor (one output), a tuple or list (card order) or a dict (by name).
    """
    import torch

    args = [torch.from_numpy(np.ascontiguousarray(inputs[s.name])) for s in card.inputs]
    with torch.inference_mode():
        result = module(*args)
    names = [s.name for s in card.outputs]
    if isinstance(result, torch.Tensor):
        values: Sequence[Any] = [result]
    elif isinstance(result, list | tuple):
        values = result
    elif isinstance(result, dict):
        missing = [n for n in names if n not in result]
        if missing:
            raise ConversionFailed(
                f"the module returned {sorted(result)}; the card's outputs {missing} are missing"
            )
        values = [result[n] for n in names]
    else:
        raise ConversionFailed(f"the module returned a {type(result).__name__}; return tensors")
    if len(values) != len(names):
        raise ConversionFailed(f"the module returned {len(values)} outputs; the card declares {names}")
    return {n: np.asarray(v.detach().cpu().numpy()) for n, v in zip(names, values, strict=True)}


def nbytes(module: Any) -> int:
    """Bytes of the module's parameters and buffers (for the replica's memory bound)."""
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
