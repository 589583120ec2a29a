from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from model_hub import (
    ArtifactTampered,
    ComponentExists,
    ComponentNotFound,
    FormulaRejected,
    HubError,
    HubSettings,
    Kind,
    Lineage,
    ModelTooLarge,
    NotOwner,
    OnnxRejected,
    PickleRefused,
    Query,
    Registry,
    Viewer,
    resolve_formula,
)
from model_hub.convert import run_onnx
from tests import onnx_models
from tests.cards import make_card


def test_onnx_registration_round_trip_with_lineage_and_signature(registry: Registry) -> None:
    card = make_card()
    lineage = Lineage(training_job="job-42", data_snapshot="snap-2026-11", git_commit="abc123")
    version = registry.register_onnx(card, onnx_models.linear(), lineage=lineage)
    assert (version.version, version.format, version.status) == (1, "onnx", "active")

    loaded = registry.load("reactor-quality")
    assert loaded.card == card
    assert loaded.version.lineage == lineage
    x = np.ones((3, 4), np.float32)
    (y,) = run_onnx(onnx.load(str(loaded.onnx_path)).SerializeToString(), {"x": x})
    (expected,) = run_onnx(onnx_models.linear(), {"x": x})
    np.testing.assert_allclose(y, expected)
    # MLflow's own view: the card is the description, the filter fields are tags, MLmodel has the signature.
    model = registry.client.get_registered_model("reactor-quality")
    assert "反应釜质量预测" in model.description
    assert model.tags["brain.kind"] == "process"
    assert model.tags["brain.industries"] == ",high-end-chemicals,"
    assert "signature" in (loaded.path / "MLmodel").read_text()


def test_torch_sklearn_and_formula_registrations(registry: Registry) -> None:
    from sklearn.linear_model import Ridge

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    v1 = registry.register_torch(make_card(name="torch-mlp"), module)
    x = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    v2 = registry.register_sklearn(make_card(name="sk-ridge"), Ridge().fit(x, x.sum(axis=1)), {"x": x})
    v3 = registry.register_formula(
        make_card(name="sum-formula", kind="mechanism"), "tests.formulas:scale", {"factor": 2.0}
    )
    assert (v1.format, v2.format, v3.format) == ("onnx", "onnx", "formula")
    entry, params = registry.load("sum-formula").formula()
    result = resolve_formula(entry, registry.settings.formula_packages)({"x": np.ones((2, 3))}, params)
    np.testing.assert_allclose(result["y"], [[6.0], [6.0]])
    found = registry.search(Query(kinds=[Kind.mechanism, Kind.process]))
    assert [e.name for e in found.items] == ["sk-ridge", "sum-formula", "torch-mlp"]


def test_duplicate_names_are_refused_and_new_versions_need_the_owner(registry: Registry) -> None:
    registry.register_onnx(make_card(), onnx_models.linear())
    with pytest.raises(ComponentExists, match="--new-version"):
        registry.register_onnx(make_card(), onnx_models.linear())
    with pytest.raises(NotOwner, match="belongs to 'lubei-chem'"):
        registry.register_onnx(make_card(owner="someone-else"), onnx_models.linear(), new_version=True)
    v2 = registry.register_onnx(
        make_card(version_notes="retrained"), onnx_models.linear(seed=1), new_version=True
    )
    assert v2.version == 2
    assert [v.version for v in registry.versions("reactor-quality")] == [1, 2]
    assert registry.card("reactor-quality").version_notes == "retrained"


def test_promote_rollback_and_deprecate(registry: Registry) -> None:
    for seed in range(3):
        registry.register_onnx(make_card(), onnx_models.linear(seed=seed), new_version=seed > 0)
    assert registry.version("reactor-quality").version == 3  # no production yet: newest active
    registry.promote("reactor-quality", 1)
    registry.promote("reactor-quality", 3)
    registry.promote("reactor-quality", 2, "staging")
    assert registry.version("reactor-quality", "production").version == 3
    assert registry.version("reactor-quality", "staging").version == 2
    assert registry.search(Query()).items[0].production_version == 3

    assert registry.rollback("reactor-quality").version == 1
    assert registry.version("reactor-quality").version == 1
    with pytest.raises(HubError, match="no earlier production version"):
        registry.rollback("reactor-quality")

    with pytest.raises(HubError, match="holds the alias"):
        registry.deprecate("reactor-quality", 1)
    registry.deprecate("reactor-quality", 3)
    assert registry.version("reactor-quality", 3).status == "deprecated"
    with pytest.raises(HubError, match="deprecated"):
        registry.promote("reactor-quality", 3)
    registry.deprecate("reactor-quality")
    assert registry.search(Query()).total == 0
    assert registry.search(Query(include_deprecated=True)).total == 1


def test_bad_references(registry: Registry) -> None:
    with pytest.raises(ComponentNotFound, match="'nothing' is not registered"):
        registry.load("nothing")
    registry.register_onnx(make_card(), onnx_models.linear())
    with pytest.raises(ComponentNotFound, match="alias 'production'"):
        registry.version("reactor-quality", "production")
    with pytest.raises(HubError, match="neither a version number nor one of the aliases"):
        registry.version("reactor-quality", "latest-and-greatest")
    with pytest.raises(ComponentNotFound, match="version 9"):
        registry.load("reactor-quality", 9)


def test_a_tampered_artifact_refuses_to_load(registry: Registry) -> None:
    version = registry.register_onnx(make_card(), onnx_models.linear())
    stored = Path(version.source.removeprefix("file://")) / "model.onnx"
    stored.write_bytes(onnx_models.linear(seed=7).SerializeToString())
    with pytest.raises(ArtifactTampered, match="model.onnx"):
        registry.load("reactor-quality")


def test_a_tampered_cache_is_refetched_not_trusted(registry: Registry) -> None:
    registry.register_onnx(make_card(), onnx_models.linear())
    cached = registry.load("reactor-quality").onnx_path
    cached.write_bytes(b"garbage")
    again = registry.load("reactor-quality")
    assert again.onnx_path.read_bytes() != b"garbage"


def test_pickle_for_public_is_refused_and_nothing_is_registered(registry: Registry, tmp_path: Path) -> None:
    payload = tmp_path / "model.pkl"
    payload.write_bytes(b"\x80\x04\x95\x00")
    with pytest.raises(PickleRefused, match="only be registered as private"):
        registry.register_file(make_card(visibility="public"), payload)
    assert registry.count_registered() == 0
    version = registry.register_file(make_card(visibility="private"), payload)
    assert version.format == "pickle"


def test_unsafe_onnx_is_refused(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "custom" / "model.onnx"
    path.parent.mkdir()
    onnx.save(onnx_models.custom_domain(), str(path))
    with pytest.raises(OnnxRejected, match="not a standard ONNX domain"):
        registry.register_onnx(make_card(), path)
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    outside = onnx_models.with_external_data(tmp_path / "ext", "../secret.bin")
    with pytest.raises(OnnxRejected, match="outside the model folder"):
        registry.register_onnx(make_card(), outside)
    assert registry.count_registered() == 0


def test_models_over_the_size_limit_are_refused(tmp_path: Path) -> None:
    registry = Registry(HubSettings(home=tmp_path / "h", max_model_bytes=100))
    with pytest.raises(ModelTooLarge):
        registry.register_onnx(make_card(), onnx_models.linear(n_in=64, n_out=64))
    assert registry.count_registered() == 0


def test_formulas_outside_the_allowed_packages_are_refused(registry: Registry) -> None:
    with pytest.raises(FormulaRejected, match="outside the allowed packages"):
        registry.register_formula(make_card(kind="mechanism"), "os:system", {})
    with pytest.raises(FormulaRejected, match="must look like"):
        registry.register_formula(make_card(kind="mechanism"), "tests.formulas", {})
    with pytest.raises(FormulaRejected, match="has no function"):
        registry.register_formula(make_card(kind="mechanism"), "tests.formulas:nope", {})
    with pytest.raises(FormulaRejected, match="plain JSON"):
        registry.register_formula(make_card(kind="mechanism"), "tests.formulas:scale", {"f": object()})


def test_the_catalogue_rebuilds_from_mlflow(registry: Registry, settings: HubSettings) -> None:
    registry.register_onnx(make_card(), onnx_models.linear())
    registry.register_onnx(make_card(name="other-one", visibility="private", owner="x"), onnx_models.linear())
    registry.close()
    settings.catalog_file.unlink()
    fresh = Registry(settings)
    assert fresh.catalog.count() == 0
    assert fresh.sync() == 2
    assert fresh.sync() == 0  # incremental: nothing new
    viewer = Viewer(tenant="y", industries=frozenset({"high-end-chemicals"}))
    assert [e.name for e in fresh.search(Query(), viewer).items] == ["reactor-quality"]
    fresh.close()


def test_export_copies_verified_artifacts(registry: Registry, tmp_path: Path) -> None:
    registry.register_onnx(make_card(), onnx_models.linear())
    target = registry.export("reactor-quality", None, tmp_path / "out")
    assert {p.name for p in target.iterdir()} >= {"MLmodel", "card.json", "manifest.json", "model.onnx"}
    with pytest.raises(HubError, match="already exists"):
        registry.export("reactor-quality", 1, tmp_path / "out")
    shutil.rmtree(target)


def test_registry_through_a_real_mlflow_server(mlflow_server: str, tmp_path: Path) -> None:
    settings = HubSettings(
        home=tmp_path / "client",
        mlflow_tracking_uri=mlflow_server,
        artifact_root=(tmp_path / "artifacts").as_uri(),
    )
    registry = Registry(settings)
    registry.register_onnx(make_card(), onnx_models.linear())
    registry.promote("reactor-quality", 1)
    assert registry.version("reactor-quality", "production").version == 1
    assert registry.load("reactor-quality").card.name == "reactor-quality"
    # A second client with an empty index catches up from the server.
    other = Registry(HubSettings(home=tmp_path / "client2", mlflow_tracking_uri=mlflow_server))
    assert other.sync() == 1
    assert other.search(Query(industries=["high-end-chemicals"])).items[0].production_version == 1
    registry.close()
    other.close()


def test_serving_policies_are_kept_with_the_component(registry: Registry) -> None:
    from model_hub import ServingPolicy

    registry.register_onnx(make_card(), onnx_models.linear())
    assert registry.info("reactor-quality").serving == ServingPolicy()
    assert registry.dedicated() == {}

    policy = ServingPolicy(
        max_batch_size=32, batch_wait_ms=1.5, dedicated=True, min_replicas=0, max_replicas=3
    )
    registry.set_serving("reactor-quality", policy)
    assert registry.info("reactor-quality").serving == policy
    assert registry.dedicated() == {"reactor-quality": policy}

    registry.set_serving("reactor-quality", ServingPolicy(max_batch_size=8))
    assert registry.dedicated() == {}
    with pytest.raises(ComponentNotFound):
        registry.set_serving("no-such-component", policy)

    # A tag edited by hand into nonsense serves with the defaults instead of failing the component.
    registry.client.set_registered_model_tag("reactor-quality", "brain.serving", "{not json")
    assert registry.info("reactor-quality").serving == ServingPolicy()


def test_replicas_fetching_the_same_version_at_once_all_get_it(
    registry: Registry, settings: HubSettings
) -> None:
    """Two replicas on one node share the cache folder: the second to finish uses the first's copy."""
    import threading

    registry.register_onnx(make_card(), onnx_models.linear())
    version = registry.version("reactor-quality", 1)
    others = [Registry(settings) for _ in range(5)]
    try:
        for _ in range(5):
            shutil.rmtree(settings.home_dir / "cache" / "reactor-quality", ignore_errors=True)
            start = threading.Barrier(len(others))
            failures: list[BaseException] = []

            def fetch(
                hub: Registry, start: threading.Barrier = start, failures: list[BaseException] = failures
            ) -> None:
                start.wait()
                try:
                    assert hub.fetch(version).onnx_path.is_file()
                except BaseException as exc:
                    failures.append(exc)

            threads = [threading.Thread(target=fetch, args=(hub,)) for hub in others]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert failures == []
    finally:
        for hub in others:
            hub.close()


def test_a_rewritten_sha256_tag_is_refused_by_its_signature(registry: Registry, tmp_path: Path) -> None:
    """Someone with MLflow write access uploads other artifacts and rewrites the hash tag to match:
    the sha256 check passes, the platform's signature does not."""
    from model_hub import SignatureMismatch, safety

    version = registry.register_onnx(make_card(), onnx_models.linear())
    assert version.manifest_hmac.startswith("v2:") and len(version.manifest_hmac) == 3 + 64
    stored = Path(version.source.removeprefix("file://"))
    (stored / "model.onnx").write_bytes(onnx_models.linear(seed=7).SerializeToString())
    forged = safety.write_manifest(stored)
    registry.client.set_model_version_tag("reactor-quality", "1", "brain.manifest_sha256", forged)
    with pytest.raises(SignatureMismatch, match="does not carry this platform's signature"):
        registry.load("reactor-quality")
    # Nor does an operator's explicit signing replace a wrong signature.
    with pytest.raises(SignatureMismatch):
        registry.sign("reactor-quality", 1)


def test_a_signature_made_with_another_key_is_refused(settings: HubSettings, tmp_path: Path) -> None:
    from model_hub import SignatureMismatch

    registry = Registry(settings)
    registry.register_onnx(make_card(), onnx_models.linear())
    registry.close()
    other = Registry(settings.model_copy(update={"registry_key_file": tmp_path / "other-key"}))
    with pytest.raises(SignatureMismatch):
        other.load("reactor-quality")
    other.close()


def test_the_key_file_is_private_and_versions_from_before_signing_are_signed_once(
    settings: HubSettings,
) -> None:
    from model_hub import ManifestUnsigned, signing

    registry = Registry(settings)
    path = signing.key_file(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    registry.register_onnx(make_card(), onnx_models.linear())
    # As registered before signing existed: no signature, and no key yet.
    registry.client.delete_model_version_tag("reactor-quality", "1", signing.TAG)
    registry.close()
    path.unlink()
    migrated = Registry(settings)  # creates the key: signs what is unsigned, after checking it
    assert migrated.key.created
    assert migrated.version("reactor-quality", 1).manifest_hmac
    migrated.load("reactor-quality")
    # Later an unsigned version is refused until an operator signs it.
    migrated.client.delete_model_version_tag("reactor-quality", "1", signing.TAG)
    migrated.close()
    again = Registry(settings)
    assert not again.key.created
    with pytest.raises(ManifestUnsigned, match="brain components sign reactor-quality --version 1"):
        again.load("reactor-quality")
    again.sign("reactor-quality", 1)
    again.load("reactor-quality")
    again.close()


def copy_version(registry: Registry, name: str, source: int, target: int) -> None:
    """What someone with write access to MLflow (not the registry key) can do: put version
    ``source``'s artifacts and its format, hash and signature tags on version ``target``."""
    old, new = registry.version(name, source), registry.version(name, target)
    folder = Path(new.source.removeprefix("file://"))
    shutil.rmtree(folder)
    shutil.copytree(Path(old.source.removeprefix("file://")), folder)
    for tag in ("brain.format", "brain.manifest_sha256", "brain.manifest_hmac"):
        value = registry.client.get_model_version(name, str(source)).tags[tag]
        registry.client.set_model_version_tag(name, str(target), tag, value)


def register_three(registry: Registry) -> None:
    registry.register_onnx(make_card(), onnx_models.linear(seed=1))
    for seed in (2, 3):
        registry.register_onnx(make_card(), onnx_models.linear(seed=seed), new_version=True)


def test_copying_version_1_onto_version_3_is_refused(registry: Registry) -> None:
    """A silent rollback: version 1's artifacts and tags, its signature included, copied onto version 3.
    The signature binds the version number, so neither a load nor an operator's signing accepts it."""
    from model_hub import SignatureMismatch

    register_three(registry)
    registry.load("reactor-quality", 1)
    copy_version(registry, "reactor-quality", 1, 3)
    with pytest.raises(SignatureMismatch, match="reactor-quality version 3: .* does not carry"):
        registry.load("reactor-quality", 3)
    with pytest.raises(SignatureMismatch):
        registry.sign("reactor-quality", 3)
    registry.load("reactor-quality", 1)  # the original still loads


def sign_legacy(registry: Registry, name: str, version: int) -> str:
    """Re-sign a version as the platform did before signatures bound the version number."""
    import hashlib
    import hmac

    from model_hub import signing

    found = registry.version(name, version)
    message = f"{name}\n{found.format}\n{found.manifest_sha256}".encode()
    legacy = hmac.new(registry.key.secret, message, hashlib.sha256).hexdigest()
    registry.client.set_model_version_tag(name, str(version), signing.TAG, legacy)
    return legacy


def test_a_legacy_signed_registry_upgrades_once_and_refuses_legacy_signatures_after(
    settings: HubSettings,
) -> None:
    from model_hub import LegacySignature, SignatureMismatch, safety

    old = Registry(settings)
    register_three(old)
    legacy = {version: sign_legacy(old, "reactor-quality", version) for version in (1, 2, 3)}
    # Version 3's legacy signature is wrong: its artifacts and hash were swapped in MLflow. Never upgraded.
    stored = Path(old.version("reactor-quality", 3).source.removeprefix("file://"))
    (stored / "model.onnx").write_bytes(onnx_models.linear(seed=7).SerializeToString())
    forged = safety.write_manifest(stored)
    old.client.set_model_version_tag("reactor-quality", "3", "brain.manifest_sha256", forged)
    old.close()

    upgraded = Registry(settings)  # finds legacy signatures and no current one: upgrades
    try:
        for number in (1, 2):
            version = upgraded.version("reactor-quality", number)
            assert version.manifest_hmac.startswith("v2:"), version
            upgraded.load("reactor-quality", number)
        assert upgraded.version("reactor-quality", 3).manifest_hmac == legacy[3]
        with pytest.raises(SignatureMismatch):
            upgraded.load("reactor-quality", 3)
        with pytest.raises(SignatureMismatch):
            upgraded.sign("reactor-quality", 3)
        # After the upgrade, someone with MLflow write access puts version 1's old tags (kept from
        # before) and artifacts on version 2: refused, by the error that names the fix.
        copy_version(upgraded, "reactor-quality", 1, 2)
        upgraded.client.set_model_version_tag("reactor-quality", "2", "brain.manifest_hmac", legacy[1])
    finally:
        upgraded.close()
    again = Registry(settings)  # the current signatures record the upgrade: nothing is upgraded again
    try:
        assert again.version("reactor-quality", 2).manifest_hmac == legacy[1]
        with pytest.raises(LegacySignature, match="brain components sign reactor-quality --version 2"):
            again.load("reactor-quality", 2)
        again.load("reactor-quality", 1)
    finally:
        again.close()


def test_the_key_can_come_from_a_setting(settings: HubSettings) -> None:
    from pydantic import SecretStr

    from model_hub import signing

    keyed = settings.model_copy(update={"registry_key": SecretStr("k" * 40)})
    registry = Registry(keyed)
    assert registry.key.secret == b"k" * 40 and not signing.key_file(keyed).exists()
    registry.close()
    with pytest.raises(ValueError, match="at least 32"):
        signing.platform_key(settings.model_copy(update={"registry_key": SecretStr("short")}))


def test_deprecating_a_component_names_its_replacement(registry: Registry) -> None:
    registry.register_onnx(make_card(), onnx_models.linear())
    registry.register_onnx(make_card(name="reactor-quality-2"), onnx_models.linear())
    with pytest.raises(ComponentNotFound):
        registry.deprecate("reactor-quality", replacement="no-such-thing")
    with pytest.raises(HubError, match="cannot replace itself"):
        registry.deprecate("reactor-quality", replacement="reactor-quality")
    registry.deprecate("reactor-quality", replacement="reactor-quality-2")
    info = registry.info("reactor-quality")
    assert info.deprecated and info.replaced_by == "reactor-quality-2"
