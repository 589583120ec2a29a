"""Safety checks on model artifacts: integrity, size, pickle, and ONNX validation.

Loading someone else's pickle can run their code (MLflow CVE-2024-37052…37060), so pickle-based
formats stay private to their owner and ONNX is the exchange format for shared components.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import onnx.checker
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from model_hub.errors import ArtifactTampered, ModelTooLarge, OnnxRejected, PickleRefused
from model_hub.taxonomy import Visibility

#: Operator domains of the ONNX standard; anything else needs custom kernels we will not load.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})

#: Formats whose loading goes through pickle.
PICKLE_FORMATS = frozenset({"pickle"})
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".bin"})

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` (except the manifest itself), by relative path."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def write_manifest(folder: Path) -> str:
    """Write ``manifest.json`` into ``folder``; return its own sha256 (recorded in the registry)."""
    path = folder / MANIFEST
    path.write_text(json.dumps(build_manifest(folder), indent=1, sort_keys=True), encoding="utf-8")
    return sha256_file(path)


def verify_manifest(folder: Path, manifest_sha256: str) -> dict[str, str]:
    """Check ``folder`` against the manifest whose hash the registry recorded; raise on any change."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ArtifactTampered(MANIFEST, manifest_sha256, "missing")
    actual = sha256_file(path)
    if actual != manifest_sha256:
        raise ArtifactTampered(MANIFEST, manifest_sha256, actual)
    expected: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    found = build_manifest(folder)
    for rel, sha in expected.items():
        got = found.get(rel, "missing")
        if got != sha:
            raise ArtifactTampered(rel, sha, got)
    extra = sorted(set(found) - set(expected))
    if extra:
        raise ArtifactTampered(extra[0], "absent", found[extra[0]])
    return expected


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise ModelTooLarge(size, limit)


def looks_like_pickle(head: bytes) -> bool:
    """Whether a file starts like a pickle (protocol 2 to 5: what pickle, joblib and torch write) or a
    zip archive (``torch.save``'s format, pickled inside): told from the bytes, never by loading."""
    return (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or head.startswith(b"PK\x03\x04")


def check_format_allowed(fmt: str, visibility: Visibility) -> None:
    if fmt in PICKLE_FORMATS and visibility != Visibility.private:
        raise PickleRefused(fmt, visibility.value)


def _graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    """The graph and every subgraph (If/Loop/Scan bodies) below it."""
    found = [graph]
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                found += _graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    found += _graphs(g)
    return found


def check_onnx(model_path: Path) -> onnx.ModelProto:
    """Validate an ONNX file that sits in its model folder; return the model (without external data).

    Refuses custom operator domains, model-local functions, and external-data paths that leave the
    model's folder (checked before anything reads them, so a hostile path is never opened).
    """
    folder = model_path.parent.resolve()
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends without a common base
        raise OnnxRejected(f"{model_path.name} is not a readable ONNX model: {exc}") from None
    for opset in model.opset_import:
        if opset.domain not in STANDARD_DOMAINS:
            raise OnnxRejected(_domain_message(opset.domain))
    if len(model.functions):
        raise OnnxRejected(
            "the model defines local functions (custom operators); inline them "
            "(onnx.inliner.inline_local_functions) before registering"
        )
    for graph in _graphs(model.graph):
        for node in graph.node:
            if node.domain not in STANDARD_DOMAINS:
                raise OnnxRejected(_domain_message(node.domain, node.op_type))
        for tensor in graph.initializer:
            if uses_external_data(tensor):
                location = ExternalDataInfo(tensor).location
                target = (folder / location).resolve()
                if Path(location).is_absolute() or not target.is_relative_to(folder):
                    raise OnnxRejected(
                        f"initializer {tensor.name!r} points its external data at {location!r}, "
                        f"outside the model folder; keep external data files next to the model "
                        f"and reference them by a relative name"
                    )
                if not target.is_file():
                    raise OnnxRejected(
                        f"initializer {tensor.name!r} needs external data file {location!r}, "
                        f"which is not in the model folder"
                    )
    try:
        onnx.checker.check_model(str(model_path))
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid model"
        raise OnnxRejected(f"onnx.checker refused {model_path.name}: {first}") from None
    return model


def _domain_message(domain: str, op: str | None = None) -> str:
    what = f"operator {op!r} of domain {domain!r}" if op else f"operator domain {domain!r}"
    return (
        f"{what} is not a standard ONNX domain; only {sorted(STANDARD_DOMAINS)} are allowed, "
        f"because custom operators need native kernels the serving runtime will not load. "
        f"Re-export the model with standard operators"
    )
