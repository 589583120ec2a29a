"""Training statistics registered with a version: a built-in records them through the same path as
`brain up` (components.publish.register_trained), and they come back from MLflow as recorded."""

from __future__ import annotations

from components.process_quality.component import ProcessQuality
from components.publish import register_trained
from model_hub import Lineage, Registry
from model_hub.reference_stats import TAG, read_reference


def test_a_builtin_registers_its_training_statistics(registry: Registry) -> None:
    trained = ProcessQuality(samples=600, epochs=3).train(seed=0)
    assert trained.reference_inputs is not None
    rows = len(trained.reference_inputs["process_parameters"])
    version = register_trained(registry, trained, lineage=Lineage(), new_version=False)
    stats = read_reference(registry, version.name, version.version)
    assert stats is not None and stats.rows == rows >= 150
    names = [(f.kind, f.name) for f in stats.features]
    inputs = [n for k, n in names if k == "input"]
    assert inputs == [f"process_parameters[{i}]" for i in range(5)]
    assert {k for k, _ in names} == {"input", "output"}  # the model's outputs on them too
    assert all(abs(sum(f.fractions) - 1) < 1e-9 for f in stats.features)
    raw = registry.client.get_model_version(version.name, str(version.version)).tags[TAG]
    assert len(raw) < 100_000  # MLflow's limit on a model-version tag


def test_a_version_without_statistics_reads_none(registry: Registry) -> None:
    from tests import onnx_models
    from tests.cards import make_card

    version = registry.register_onnx(make_card(), onnx_models.linear())
    assert read_reference(registry, version.name, version.version) is None
