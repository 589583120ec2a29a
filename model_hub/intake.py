"""Format intake: what a developer hands over (ONNX, torch, scikit-learn, a formula, a pickle) checked
and turned into a `Submission`, the format and the writer of its artifact files.

Nothing here touches MLflow: the registry writes a submission into a fresh artifact folder, adds the
card and the manifest, and stores the folder (`model_hub.store`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from model_hub import convert, safety, torch_module
from model_hub.card import NUMPY_DTYPES, Card, TensorSpec
from model_hub.code import resolve_entrypoint
from model_hub.errors import FormulaRejected, HubError, TorchRejected
from model_hub.settings import HubSettings

FORMATS = ("onnx", "torch", "formula", "pickle")

#: What an upload through the platform's API may hold, by format: files that are parsed, never
#: unpickled (protobuf, safetensors, JSON). Pickle-based files are refused by name and by content.
UPLOAD_FILES: dict[str, frozenset[str]] = {
    "onnx": frozenset({"model.onnx"}),
    "torch": frozenset({torch_module.SPEC, torch_module.WEIGHTS}),
    "formula": frozenset({"formula.json"}),
    # A pipeline's spec (`model_hub.pipeline`); registered by `Registry.register_pipeline`, which checks
    # it against its steps' cards.
    "pipeline": frozenset({"pipeline.json"}),
}


@dataclass(frozen=True)
class Submission:
    """A model accepted at intake: its format, and how to write its files into an artifact folder."""

    format: str
    write: Callable[[Path], object]


def resolve_formula(entrypoint: str, allowed: list[str]) -> Callable[..., Any]:
    """Import a formula's ``package.module:function`` if it lives in an allowed package."""
    return resolve_entrypoint(entrypoint, allowed, "formula", FormulaRejected)


def signature_from_card(card: Card) -> Any:
    """The MLflow model signature the card implies (so `mlflow models serve` validates inputs)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema
    from mlflow.types.schema import TensorSpec as MlflowTensorSpec

    def schema(specs: list[TensorSpec]) -> Schema:
        return Schema([MlflowTensorSpec(NUMPY_DTYPES[s.datatype], tuple(s.shape), s.name) for s in specs])

    return ModelSignature(inputs=schema(card.inputs), outputs=schema(card.outputs))


def _onnx_requirements() -> list[str]:
    import importlib.metadata as md

    return [f"{p}=={md.version(p)}" for p in ("mlflow", "onnx", "onnxruntime", "numpy")]


def write_onnx(folder: Path, model: onnx.ModelProto, card: Card) -> None:
    """The ONNX model as an MLflow model folder, so `mlflow models serve` can serve the same artifact."""
    import mlflow.onnx

    # mlflow's saver wants an empty target.
    target = folder / "mlflow"
    # Requirements are given, not inferred: MLflow's inference starts a Python subprocess that
    # imports the model (1.2 s of a 1.4 s registration), and an ONNX model needs only these.
    mlflow.onnx.save_model(
        model,
        str(target),
        signature=signature_from_card(card),
        save_as_external_data=False,
        pip_requirements=_onnx_requirements(),
    )
    for item in target.iterdir():
        shutil.move(str(item), folder / item.name)
    target.rmdir()


class Intake:
    """Checks each format's model against the card and the safety rules of the settings."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings

    def onnx(self, card: Card, model: onnx.ModelProto | str | Path) -> Submission:
        """An ONNX model given as a file (external data beside it) or a ModelProto."""
        with tempfile.TemporaryDirectory(prefix="brain-onnx-") as tmp:
            if isinstance(model, onnx.ModelProto):
                src = Path(tmp) / "in" / "model.onnx"
                src.parent.mkdir()
                onnx.save(model, str(src))
            else:
                src = Path(model)
                if not src.is_file():
                    raise HubError(f"ONNX file {str(src)!r} does not exist")
            # Size first, so nothing oversized is parsed; the registry's folder check then covers
            # external data too.
            safety.check_size(src.stat().st_size, self.settings.max_model_bytes)
            safety.check_onnx(src)
            full = onnx.load(str(src), load_external_data=True)
        convert.check_interface(full, card)
        return Submission("onnx", lambda folder: write_onnx(folder, full, card))

    def torch(self, card: Card, module: Any, inputs: Mapping[str, np.ndarray] | None) -> Submission:
        """A torch module exported to ONNX, checked against torch on sample inputs."""
        samples = dict(inputs) if inputs is not None else convert.sample_inputs(card.inputs)
        model = convert.torch_to_onnx(
            module, card, samples, self.settings.verify_atol, self.settings.verify_rtol
        )
        return self.onnx(card, model)

    def torch_module(
        self,
        card: Card,
        module: Any,
        config: Mapping[str, Any] | None,
        inputs: Mapping[str, np.ndarray] | None,
        entrypoint: str | None,
    ) -> Submission:
        """A module kept in torch: its class (or factory) by import path, its weights as safetensors;
        the module rebuilt from the written files must give the original's outputs."""
        target = entrypoint or torch_module.entrypoint_of(module)
        allowed = self.settings.formula_packages
        resolve_entrypoint(target, allowed, "torch module", TorchRejected)
        samples = dict(inputs) if inputs is not None else convert.sample_inputs(card.inputs)
        expected = torch_module.run(module.eval(), card, samples)

        def write(folder: Path) -> None:
            torch_module.save(folder, module, target, config or {})
            rebuilt = torch_module.build(folder, allowed)
            got = torch_module.run(rebuilt, card, samples)
            convert.compare_outputs(
                list(expected.values()),
                list(got.values()),
                self.settings.verify_atol,
                self.settings.verify_rtol,
            )

        return Submission("torch", write)

    def torch_files(self, card: Card, folder: Path) -> Submission:
        """A torch version given as its two stored files, ``torch.json`` and ``weights.safetensors``
        in ``folder`` (what the platform's API takes: no pickle). The module is rebuilt from them,
        exactly as a replica will, and must answer sample inputs of the card with its outputs."""
        safety.check_size(safety.folder_size(folder), self.settings.max_model_bytes)
        try:
            spec = json.loads((folder / torch_module.SPEC).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise TorchRejected(f"{torch_module.SPEC} is not readable JSON: {exc}") from None
        if (
            not isinstance(spec, dict)
            or set(spec) != {"entrypoint", "config"}
            or not isinstance(spec["entrypoint"], str)
            or not isinstance(spec["config"], dict)
        ):
            raise TorchRejected(
                f'{torch_module.SPEC} must be {{"entrypoint": "pkg.module:Factory", "config": {{...}}}}'
            )
        module = torch_module.build(folder, self.settings.formula_packages)
        torch_module.run(module, card, convert.sample_inputs(card.inputs))
        names = (torch_module.SPEC, torch_module.WEIGHTS)
        data = {name: (folder / name).read_bytes() for name in names}

        def write(target: Path) -> None:
            for name, content in data.items():
                (target / name).write_bytes(content)

        return Submission("torch", write)

    def upload(self, card: Card, folder: Path) -> Submission:
        """The files of an upload (``folder`` holds exactly those of one format of UPLOAD_FILES)."""
        names = frozenset(p.name for p in folder.iterdir())
        fmt = next((f for f, files in UPLOAD_FILES.items() if files == names), None)
        if fmt == "onnx":
            return self.onnx(card, folder / "model.onnx")
        if fmt == "torch":
            return self.torch_files(card, folder)
        if fmt == "pipeline":
            raise HubError("a pipeline is registered with its spec (Registry.register_pipeline), not a card")
        if fmt == "formula":
            try:
                spec = json.loads((folder / "formula.json").read_text(encoding="utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise FormulaRejected(f"formula.json is not readable JSON: {exc}") from None
            if (
                not isinstance(spec, dict)
                or not isinstance(spec.get("entrypoint"), str)
                or not isinstance(spec.get("parameters", {}), dict)
                or set(spec) - {"entrypoint", "parameters"}
            ):
                raise FormulaRejected(
                    'formula.json must be {"entrypoint": "pkg.module:function", "parameters": {...}}'
                )
            return self.formula(spec["entrypoint"], spec.get("parameters"))
        expected = " or ".join(f"{sorted(files)} ({f})" for f, files in UPLOAD_FILES.items())
        raise HubError(f"an upload holds {sorted(names)}; send exactly the files {expected}")

    def sklearn(self, card: Card, estimator: Any, inputs: Mapping[str, np.ndarray]) -> Submission:
        """A fitted scikit-learn estimator converted with skl2onnx and checked."""
        model = convert.sklearn_to_onnx(
            estimator, card, inputs, self.settings.verify_atol, self.settings.verify_rtol
        )
        return self.onnx(card, model)

    def formula(self, entrypoint: str, parameters: Mapping[str, Any] | None) -> Submission:
        """A formula: code by import path from an allowed package, JSON parameters."""
        resolve_formula(entrypoint, self.settings.formula_packages)
        try:
            params_json = json.dumps(dict(parameters or {}), ensure_ascii=False, sort_keys=True, indent=1)
        except (TypeError, ValueError) as exc:
            raise FormulaRejected(f"formula parameters must be plain JSON: {exc}") from None

        def write(folder: Path) -> None:
            spec = {"entrypoint": entrypoint, "parameters": json.loads(params_json)}
            (folder / "formula.json").write_text(json.dumps(spec, ensure_ascii=False, indent=1), "utf-8")

        return Submission("formula", write)

    def pickle(self, card: Card, path: str | Path) -> Submission:
        """A pickle-based model file, stored as-is. Only private components may do this."""
        safety.check_format_allowed("pickle", card.visibility)
        src = Path(path)
        if not src.is_file():
            raise HubError(f"model file {str(src)!r} does not exist")
        safety.check_size(src.stat().st_size, self.settings.max_model_bytes)
        return Submission("pickle", lambda folder: shutil.copy2(src, folder / f"model{src.suffix}"))

    def file(self, card: Card, path: str | Path) -> Submission:
        """A model file by its suffix: ``.onnx`` or a pickle-based format."""
        suffix = Path(path).suffix.lower()
        if suffix == ".onnx":
            return self.onnx(card, path)
        if suffix in safety.PICKLE_SUFFIXES:
            return self.pickle(card, path)
        raise HubError(
            f"cannot tell the format of {Path(path).name!r}: use an .onnx file, or a pickle-based "
            f"file ({', '.join(sorted(safety.PICKLE_SUFFIXES))}) for a private component"
        )
