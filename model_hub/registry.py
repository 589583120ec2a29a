"""The component registry: register, version, promote, roll back, deprecate, load.

A façade over the registry's parts, one concern each: format intake (`model_hub.intake`), MLflow
persistence (`model_hub.store`), the lifecycle of versions (`model_hub.lifecycle`), verified artifact
folders (`model_hub.artifacts`), and the catalogue index it keeps in step with MLflow
(`model_hub.catalog`).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from mlflow.entities.model_registry import RegisteredModel

from model_hub import artifacts, pipeline, safety, signing
from model_hub.artifacts import ArtifactCache, Loaded
from model_hub.card import Card
from model_hub.catalog import Catalog, Page, Query, Viewer
from model_hub.errors import ComponentExists, ComponentNotFound, HubError, NotOwner, PipelineInvalid
from model_hub.intake import Intake, Submission
from model_hub.lifecycle import Lifecycle
from model_hub.serving_policy import ServingPolicy
from model_hub.settings import HubSettings
from model_hub.store import ARTIFACT_DIR, ComponentStore, to_version
from model_hub.taxonomy import Visibility
from model_hub.versions import ComponentInfo, Lineage, Version

log = logging.getLogger(__name__)

#: The formats a capability centre serves, so the only ones a pipeline's step may have.
SERVED_FORMATS = ("onnx", "torch", "formula")

#: The registered model's tag that marks a pipeline: its steps as a JSON list of "step: component".
PIPELINE_TAG = "brain.pipeline"


def pipeline_steps(tags: Mapping[str, str]) -> list[str] | None:
    """A pipeline's steps from its registered model's tags; None for a component (or an empty list)."""
    raw = tags.get(PIPELINE_TAG)
    if not raw:
        return None
    try:
        steps = json.loads(raw)
    except ValueError:
        return None
    return [str(s) for s in steps] or None if isinstance(steps, list) else None


class Registry:
    """The component registry. One instance per process; safe to share between threads."""

    def __init__(self, settings: HubSettings | None = None) -> None:
        self.settings = settings or HubSettings()
        self.settings.home_dir.mkdir(parents=True, exist_ok=True)
        self.store = ComponentStore(self.settings)
        self.client = self.store.client
        self.catalog = Catalog(self.settings.catalog_file)
        self.intake = Intake(self.settings)
        self.lifecycle = Lifecycle(self.store)
        self.key = signing.platform_key(self.settings)
        self.artifacts = ArtifactCache(self.settings, self.key)
        # The upgrade rule of model_hub.signing: legacy signatures are upgraded once, by the first
        # process of a registry that has none of the current scheme yet, after they and the artifacts
        # are checked.
        self._migrate_signatures(
            self.upgrade_once,
            "upgrading the legacy signatures",
            "upgraded the signatures of %d version(s) to bind their numbers",
        )
        if self.key.created:
            # The migration rule of model_hub.signing: versions from before signing are signed once,
            # by the process that made the key, after their artifacts are checked.
            self._migrate_signatures(
                self.sign_unsigned,
                "signing the versions registered before signing",
                "signed %d version(s) registered before manifests were signed",
            )

    def _migrate_signatures(self, step: Callable[[], list[Version]], what: str, done: str) -> None:
        """Run one of the start-up signature migrations. The registry must open even if it fails:
        `brain components sign` finishes the work, so a failure is logged, not raised."""
        try:
            changed = step()
        except Exception as exc:
            log.warning("%s failed: %s", what, exc)
            return
        if changed:
            log.info(done, len(changed))

    def close(self) -> None:
        self.catalog.close()

    # --- registration ------------------------------------------------------------------------

    def register_onnx(
        self,
        card: Card,
        model: onnx.ModelProto | str | Path,
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Register an ONNX model given as a file (external data beside it) or a ModelProto."""
        return self._register(card, self.intake.onnx(card, model), lineage, new_version)

    def register_torch(
        self,
        card: Card,
        module: Any,
        inputs: Mapping[str, np.ndarray] | None = None,
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Export a torch module to ONNX, check it against torch on sample inputs, register it."""
        return self._register(card, self.intake.torch(card, module, inputs), lineage, new_version)

    def register_torch_module(
        self,
        card: Card,
        module: Any,
        config: Mapping[str, Any] | None = None,
        inputs: Mapping[str, np.ndarray] | None = None,
        *,
        entrypoint: str | None = None,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Keep a component in torch (for models ONNX cannot express): the module's class (or the
        factory ``entrypoint``) must be in an allowed package and build it from the JSON ``config``;
        the weights are stored as safetensors. The rebuilt module is checked against ``module``."""
        submission = self.intake.torch_module(card, module, config, inputs, entrypoint)
        return self._register(card, submission, lineage, new_version)

    def register_sklearn(
        self,
        card: Card,
        estimator: Any,
        inputs: Mapping[str, np.ndarray],
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Convert a fitted scikit-learn estimator with skl2onnx, check it, register it."""
        return self._register(card, self.intake.sklearn(card, estimator, inputs), lineage, new_version)

    def register_formula(
        self,
        card: Card,
        entrypoint: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Register a formula component: code by import path from an allowed package, JSON parameters."""
        return self._register(card, self.intake.formula(entrypoint, parameters), lineage, new_version)

    def register_pickle(
        self,
        card: Card,
        path: str | Path,
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Store a pickle-based model file as-is. Only private components may do this."""
        return self._register(card, self.intake.pickle(card, path), lineage, new_version)

    def register_file(
        self,
        card: Card,
        path: str | Path,
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Register a model file by its suffix: ``.onnx`` or a pickle-based format."""
        return self._register(card, self.intake.file(card, path), lineage, new_version)

    def register_upload(
        self, card: Card, folder: Path, *, lineage: Lineage | None = None, new_version: bool = False
    ) -> Version:
        """Register the files of an upload through the platform's API (`Intake.upload`: ONNX,
        torch as JSON + safetensors, or a formula; never a pickle)."""
        return self._register(card, self.intake.upload(card, folder), lineage, new_version)

    def register_pipeline(
        self,
        spec: pipeline.PipelineSpec,
        *,
        may_use: Callable[[Card], bool] | None = None,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Register a pipeline (`model_hub.pipeline`): its spec is checked against the cards of its
        steps' versions and stored as the version's ``pipeline.json``, signed like any artifact.

        ``may_use`` says whether the registering tenant may use a step's component (the capability
        centre passes its visibility rule); a step it may not use reads as an unknown component.
        """

        def resolve(step: pipeline.Step) -> Card | None:
            ref = None if step.version == "production" else step.version
            try:
                found = self.version(step.component, ref)
                card = self.fetch(found).card
            except HubError:
                return None
            if may_use is not None and not may_use(card):
                return None
            if found.format == pipeline.FORMAT:
                raise PipelineInvalid(
                    f"step {step.name!r}: {step.component} is itself a pipeline; a step is a component "
                    f"(list its steps in this pipeline instead)"
                )
            if found.format not in SERVED_FORMATS:
                raise PipelineInvalid(
                    f"step {step.name!r}: {step.component} version {found.version} is stored as "
                    f"{found.format!r}, which is never served; use an ONNX, torch or formula version"
                )
            if found.status != "active":
                raise PipelineInvalid(
                    f"step {step.name!r}: {step.component} version {found.version} is {found.status}"
                )
            return card

        card = pipeline.check(spec, resolve)
        document = spec.to_json()

        def write(folder: Path) -> None:
            (folder / pipeline.SPEC_FILE).write_text(document, encoding="utf-8")

        steps = [f"{s.name}: {s.component}" for s in spec.graph.steps]
        return self._register(card, Submission(pipeline.FORMAT, write), lineage, new_version, steps)

    def _register(
        self,
        card: Card,
        submission: Submission,
        lineage: Lineage | None,
        new_version: bool,
        steps: Sequence[str] | None = None,
    ) -> Version:
        safety.check_format_allowed(submission.format, card.visibility)
        existing = self.store.registered(card.name)
        if existing is not None:
            has_versions = bool(self.store.raw_versions(card.name))
            owner = existing.tags.get("brain.owner", card.owner)
            if has_versions and not new_version:
                raise ComponentExists(card.name)
            if owner != card.owner:
                raise NotOwner(card.name, owner, card.owner)
        with tempfile.TemporaryDirectory(prefix="brain-reg-") as tmp:
            folder = Path(tmp) / ARTIFACT_DIR
            folder.mkdir()
            submission.write(folder)
            (folder / "card.json").write_text(card.model_dump_json(indent=1), encoding="utf-8")
            safety.check_size(safety.folder_size(folder), self.settings.max_model_bytes)
            manifest_sha = safety.write_manifest(folder)

            def sign(number: int) -> str:
                return self.key.sign(card.name, number, submission.format, manifest_sha)

            created, updated = self.store.create_version(
                card, submission.format, folder, manifest_sha, sign, lineage or Lineage(), existing
            )
        old_tags = (existing.tags or {}) if existing is not None else {}
        if steps is not None or PIPELINE_TAG in old_tags:
            # The catalogue's marker of a pipeline (read back by _index_model); a component version
            # that replaces a pipeline clears it.
            self.client.set_registered_model_tag(
                card.name, PIPELINE_TAG, json.dumps(list(steps or []), ensure_ascii=False)
            )
        # Index from what we already know instead of reading the model back (a quarter of the cost).
        production = dict((existing.aliases or {}) if existing is not None else {}).get("production")
        self.catalog.upsert(
            card,
            latest_version=created.version,
            production_version=int(production) if production is not None else None,
            deprecated=old_tags.get("brain.deprecated") == "true",
            updated_ms=int(updated.last_updated_timestamp or time.time() * 1000),
            steps=steps,
        )
        return created

    # --- reading -----------------------------------------------------------------------------

    def count_registered(self) -> int:
        """How many registered models MLflow holds (for consistency checks)."""
        return self.store.count_registered()

    def card(self, name: str) -> Card:
        """The newest card of a component."""
        card = self.catalog.card(name)
        if card is None:
            self.sync()
            card = self.catalog.card(name)
        if card is None:
            raise ComponentNotFound(name)
        return card

    def versions(self, name: str) -> list[Version]:
        return self.store.versions(name)

    def version(self, name: str, ref: str | int | None = None) -> Version:
        """A version by number, by alias, or (``None``) production, else the newest active one."""
        return self.store.version(name, ref)

    def info(self, name: str) -> ComponentInfo:
        return self.store.info(name)

    def all_info(self) -> dict[str, ComponentInfo]:
        """Every component's routing state, in a few bulk queries (what replicas refresh routes with)."""
        return self.store.all_info()

    def dedicated(self) -> dict[str, ServingPolicy]:
        """Components to be served by deployments of their own, with their policies."""
        return self.store.dedicated()

    def load(self, name: str, ref: str | int | None = None) -> Loaded:
        """Fetch a version's artifacts into the local cache and verify them against the registry."""
        return self.fetch(self.version(name, ref))

    def fetch(self, version: Version) -> Loaded:
        """Fetch and verify ``version`` as read from the registry (say by ``all_info``), without
        asking MLflow about it again: half the cost of a cold load in a serving replica."""
        return self.artifacts.fetch(version)

    def export(self, name: str, ref: str | int | None, dest: str | Path) -> Path:
        """Copy a verified version's artifact folder to ``dest``."""
        return artifacts.export(self.load(name, ref), dest)

    # --- signatures --------------------------------------------------------------------------

    def sign(self, name: str, version: int) -> Version:
        """Sign a version after checking its artifacts against its recorded manifest hash (an operator's
        act of trust: for versions from before signing, or with a legacy signature, which must itself
        verify). A version that carries a current signature is left as it is."""
        target = self.store.version(name, version)
        if target.manifest_hmac and not self.key.verifies_legacy(target):
            self.key.verify(target)  # a wrong signature is never replaced: that is a swapped artifact
            return target
        # Check the artifacts against the recorded hash first (fetch below verifies the signature).
        signature = self.key.sign(name, target.version, target.format, target.manifest_sha256)
        signed = replace(target, manifest_hmac=signature)
        self.artifacts.fetch(signed)
        self.client.set_model_version_tag(name, str(target.version), signing.TAG, signature)
        return signed

    def sign_unsigned(self) -> list[Version]:
        """Sign every version that has no signature (see `sign`); the versions signed."""
        signed = []
        for info in self.all_info().values():
            for version in info.versions:
                if not version.manifest_hmac and version.manifest_sha256:
                    signed.append(self.sign(version.name, version.version))
        return signed

    def upgrade_legacy(self, versions: Iterable[Version] | None = None) -> list[Version]:
        """Re-sign every version (of ``versions``, else of the registry) whose legacy signature
        verifies and whose artifacts match their recorded manifest (see `sign`); the versions
        upgraded. A version that fails either check keeps its legacy signature, so it is refused at
        load; it is logged here."""
        if versions is None:
            versions = [to_version(mv, {}) for mv in self.store.every_version()]
        upgraded = []
        for version in versions:
            if not version.manifest_hmac or signing.is_current(version.manifest_hmac):
                continue
            try:
                upgraded.append(self.sign(version.name, version.version))
            except HubError as exc:
                log.warning("not upgrading %s version %d: %s", version.name, version.version, exc)
        return upgraded

    def upgrade_once(self) -> list[Version]:
        """`upgrade_legacy`, when the registry holds legacy signatures and no valid current one: it has
        never been upgraded. Afterwards the current signatures written are the record that it was, so
        a legacy signature found later (copied by someone with MLflow write access, say) stays refused.
        """
        # Every registry start asks this: first the cheap answer, a few current signatures looked up
        # by their scheme marker (of 200 versions on SQLite: ~5 ms, against ~17 ms for reading them all).
        current = self.store.tagged_with_prefix(signing.TAG, signing.SCHEME + ":", limit=10)
        if self._any_valid(to_version(mv, {}) for mv in current):
            return []
        versions = [to_version(mv, {}) for mv in self.store.every_version()]
        legacy = [v for v in versions if v.manifest_hmac and not signing.is_current(v.manifest_hmac)]
        if not legacy or self._any_valid(v for v in versions if signing.is_current(v.manifest_hmac)):
            return []
        return self.upgrade_legacy(legacy)

    def _any_valid(self, versions: Iterable[Version]) -> bool:
        """Whether one of ``versions`` carries this key's signature (one written by someone else is no
        record of an upgrade)."""
        for version in versions:
            try:
                self.key.verify(version)
            except HubError:
                continue
            return True
        return False

    # --- lifecycle ---------------------------------------------------------------------------

    def promote(self, name: str, version: int, alias: str = "production") -> Version:
        promoted = self.lifecycle.promote(name, version, alias)
        self._index(name)
        return promoted

    def rollback(self, name: str, to: int | None = None) -> Version:
        """Point ``production`` back at the previous production version (or at ``to``)."""
        restored = self.lifecycle.rollback(name, to)
        self._index(name)
        return restored

    def deprecate(self, name: str, version: int | None = None, replacement: str | None = None) -> None:
        """Deprecate one version (it can no longer take an alias) or the whole component (no longer
        served; calls are told to use ``replacement`` when one is named)."""
        self.lifecycle.deprecate(name, version, replacement)
        self._index(name)

    def set_serving(self, name: str, policy: ServingPolicy) -> None:
        """Batching and scaling of ``name`` (ops); replicas pick it up with the component's route."""
        if policy.payload_sample_rate > 0:
            visibility = self.card(name).visibility
            if visibility is not Visibility.private:
                raise HubError(
                    f"payload sampling is for private components only; {name} is {visibility.value}, "
                    "so its callers are other tenants, whose inputs its owner may not keep"
                )
        self.lifecycle.set_serving(name, policy)

    def set_canary(self, name: str, version: int, percent: float) -> None:
        """Send ``percent`` of the calls that name no version to ``version`` (ops: 90/10 rollouts)."""
        self.lifecycle.set_canary(name, version, percent)

    def clear_canary(self, name: str) -> None:
        self.lifecycle.clear_canary(name)

    # --- catalogue ---------------------------------------------------------------------------

    def search(self, query: Query, viewer: Viewer | None = None) -> Page:
        return self.catalog.search(query, viewer)

    def _index(self, name: str) -> None:
        model = self.store.registered(name)
        if model is None:
            self.catalog.remove(name)
            return
        self._index_model(model)

    def _index_model(self, model: RegisteredModel) -> None:
        name = model.name
        versions = self.store.raw_versions(name)
        if not versions:
            return
        card = self.catalog.card(name) or self.store.card_of(max(versions, key=lambda v: int(v.version)))
        aliases = dict(model.aliases or {})
        production = aliases.get("production")
        self.catalog.upsert(
            card,
            latest_version=max(int(v.version) for v in versions),
            production_version=int(production) if production is not None else None,
            deprecated=(model.tags or {}).get("brain.deprecated") == "true",
            updated_ms=int(model.last_updated_timestamp or time.time() * 1000),
            steps=pipeline_steps(model.tags or {}),
        )

    def sync(self, full: bool = False) -> int:
        """Bring the catalogue up to date with MLflow; return how many components were (re)indexed.

        Incremental by default: registered models are read newest-first and reading stops at the
        first one the index already has at that timestamp.
        """
        if full:
            self.catalog.clear()
        newest = self.catalog.newest_update_ms()
        seen = 0
        for model in self.store.newest_first():
            if not full and int(model.last_updated_timestamp or 0) <= newest:
                return seen
            self._index_model(model)
            seen += 1
        return seen
