from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from model_hub import ArtifactTampered, ModelTooLarge, OnnxRejected, PickleRefused, Visibility, safety
from tests import onnx_models


def test_manifest_detects_changed_missing_and_added_files(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"weights")
    (tmp_path / "card.json").write_text("{}")
    sha = safety.write_manifest(tmp_path)
    assert set(safety.verify_manifest(tmp_path, sha)) == {"model.onnx", "card.json"}

    (tmp_path / "model.onnx").write_bytes(b"weightz")
    with pytest.raises(ArtifactTampered, match="'model.onnx' does not match"):
        safety.verify_manifest(tmp_path, sha)
    (tmp_path / "model.onnx").write_bytes(b"weights")

    (tmp_path / "extra.py").write_text("import os")
    with pytest.raises(ArtifactTampered, match="extra.py"):
        safety.verify_manifest(tmp_path, sha)
    (tmp_path / "extra.py").unlink()

    (tmp_path / "card.json").unlink()
    with pytest.raises(ArtifactTampered, match="card.json"):
        safety.verify_manifest(tmp_path, sha)


def test_a_rewritten_manifest_does_not_fool_the_check(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"weights")
    sha = safety.write_manifest(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"evil")
    safety.write_manifest(tmp_path)  # an attacker recomputes the manifest too
    with pytest.raises(ArtifactTampered, match="manifest.json"):
        safety.verify_manifest(tmp_path, sha)


def test_size_limit() -> None:
    safety.check_size(10, 10)
    with pytest.raises(ModelTooLarge, match="over the limit") as info:
        safety.check_size(11_000_000, 10_000_000)
    assert info.value.status == 413


@pytest.mark.parametrize("visibility", [Visibility.industry, Visibility.public])
def test_pickle_is_refused_unless_private(visibility: Visibility) -> None:
    with pytest.raises(PickleRefused, match="convert the model to ONNX"):
        safety.check_format_allowed("pickle", visibility)
    safety.check_format_allowed("pickle", Visibility.private)
    safety.check_format_allowed("onnx", visibility)


def test_a_standard_onnx_model_passes(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(onnx_models.linear(), str(path))
    assert safety.check_onnx(path).graph.name == "linear"


def test_custom_operator_domains_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(onnx_models.custom_domain(), str(path))
    with pytest.raises(OnnxRejected, match="'com.example.evil' is not a standard ONNX domain"):
        safety.check_onnx(path)


def test_external_data_outside_the_folder_is_refused_before_it_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\0" * 16)
    path = onnx_models.with_external_data(tmp_path / "model", "../secret.bin")
    with pytest.raises(OnnxRejected, match="outside the model folder"):
        safety.check_onnx(path)
    path = onnx_models.with_external_data(tmp_path / "model2", str(secret))
    with pytest.raises(OnnxRejected, match="outside the model folder"):
        safety.check_onnx(path)


def test_external_data_inside_the_folder_is_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    path = onnx_models.with_external_data(folder, "weights.bin")
    w = numpy_helper.to_array(next(t for t in onnx_models.linear().graph.initializer if t.name == "W"))
    (folder / "weights.bin").write_bytes(w.astype(np.float32).tobytes())
    safety.check_onnx(path)
    (folder / "weights.bin").unlink()
    with pytest.raises(OnnxRejected, match="which is not in the model folder"):
        safety.check_onnx(path)


def test_garbage_is_not_an_onnx_model(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x80\x04not a protobuf at all" * 10)
    with pytest.raises(OnnxRejected):
        safety.check_onnx(path)


def test_checker_failures_are_reported(tmp_path: Path) -> None:
    model = onnx_models.linear()
    model.graph.node[0].input[1] = "nowhere"  # a dangling input
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(OnnxRejected, match="onnx.checker refused"):
        safety.check_onnx(path)
