"""MLflow persistence of the registry: registered models, runs with artifact folders, versions, tags.

Layout in MLflow (what the MLflow UI shows):
- one registered model per component; its description is the card in Markdown and its tags
  carry the fields the catalogue filters on (``brain.kind``, ``brain.industries`` …);
- one run per version in the experiment ``brain-components``, whose ``component/`` artifact folder
  holds the model files, ``card.json`` and ``manifest.json`` (sha256 of every file);
- one model version per registration, tagged with its format, status, lineage and the sha256 of
  its manifest and the platform's signature of that hash and the version number
  (`model_hub.signing`). The manifest hash lives in the database, so changing any artifact file in
  the store is detected at load; the signature's key lives outside MLflow, so rewriting the hash tag,
  or copying another version's tags onto this one, is detected too.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException

from model_hub import signing
from model_hub.card import Card
from model_hub.errors import BadReference, ComponentNotFound
from model_hub.serving_policy import ServingPolicy
from model_hub.settings import HubSettings
from model_hub.versions import ALIASES, ComponentInfo, Lineage, Version

log = logging.getLogger(__name__)

EXPERIMENT = "brain-components"
ARTIFACT_DIR = "component"


def model_tags(card: Card) -> dict[str, str]:
    """The registered model's tags: the card fields the catalogue and MLflow's UI filter on."""
    return {
        "brain.kind": card.kind.value,
        "brain.visibility": card.visibility.value,
        "brain.owner": card.owner,
        # Commas on both ends let a LIKE '%,code,%' filter match whole codes only.
        "brain.industries": "," + ",".join(card.industries) + ",",
        "brain.task": card.task,
        "brain.display.zh": card.display.zh,
        "brain.display.en": card.display.en,
    }


def to_version(mv: ModelVersion, aliases: Mapping[str, Any]) -> Version:
    tags = dict(mv.tags or {})
    return Version(
        name=mv.name,
        version=int(mv.version),
        format=tags.get("brain.format", "unknown"),
        status=tags.get("brain.status", "active"),
        aliases=tuple(sorted(a for a, v in aliases.items() if str(v) == str(mv.version))),
        manifest_sha256=tags.get("brain.manifest_sha256", ""),
        source=mv.source or "",
        created_ms=int(mv.creation_timestamp or 0),
        lineage=Lineage(
            training_job=tags.get("brain.lineage.training_job"),
            data_snapshot=tags.get("brain.lineage.data_snapshot"),
            git_commit=tags.get("brain.lineage.git_commit"),
        ),
        manifest_hmac=tags.get(signing.TAG, ""),
    )


def serving_of(tags: Mapping[str, str]) -> ServingPolicy:
    raw = tags.get("brain.serving")
    if not raw:
        return ServingPolicy()
    try:
        return ServingPolicy.model_validate_json(raw)
    except ValueError:
        # A tag edited by hand in the MLflow UI must not take the component offline.
        log.warning("ignoring an unreadable brain.serving tag: %s", raw[:200])
        return ServingPolicy()


def info_of(model: RegisteredModel, raw: list[ModelVersion]) -> ComponentInfo:
    aliases = {a: int(v) for a, v in (model.aliases or {}).items()}
    tags = dict(model.tags or {})
    canary = None
    if tags.get("brain.canary"):
        spec = json.loads(tags["brain.canary"])
        canary = (int(spec["version"]), float(spec["percent"]))
    versions = tuple(sorted((to_version(mv, aliases) for mv in raw), key=lambda v: v.version))
    return ComponentInfo(
        model.name,
        versions,
        aliases,
        tags.get("brain.deprecated") == "true",
        canary,
        serving_of(tags),
        tags.get("brain.replaced_by") or None,
    )


def version_number(name: str, ref: str | int, aliases: Mapping[str, Any]) -> int:
    """The version a reference names: a number, or an alias that is set."""
    if isinstance(ref, int) or str(ref).isdigit():
        return int(ref)
    if ref in aliases:
        return int(aliases[str(ref)])
    if ref in ALIASES:
        raise ComponentNotFound(name, f"alias {ref!r} (not set; promote a version first)")
    raise BadReference(f"{ref!r} is neither a version number nor one of the aliases {list(ALIASES)}")


class ComponentStore:
    """The registry's records in MLflow; every MLflow call of the model hub goes through here."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        uri = settings.tracking_uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self._experiment_id: str | None = None

    # --- writing -----------------------------------------------------------------------------

    def create_version(
        self,
        card: Card,
        fmt: str,
        folder: Path,
        manifest_sha256: str,
        sign: Callable[[int], str],
        lineage: Lineage,
        existing: RegisteredModel | None,
    ) -> tuple[Version, RegisteredModel]:
        """Store the artifact ``folder`` as a new version of ``card.name`` (creating the registered
        model when ``existing`` is None), signed by ``sign(version number)``; the new version and the
        updated registered model."""
        if existing is None:
            self.client.create_registered_model(card.name, tags=model_tags(card))
        run = self.client.create_run(
            self._experiment(),
            run_name=card.name,
            tags={"brain.component": card.name, "brain.format": fmt},
        )
        self.client.log_artifacts(run.info.run_id, str(folder), ARTIFACT_DIR)
        self.client.set_terminated(run.info.run_id)
        tags = {
            "brain.format": fmt,
            "brain.status": "active",
            "brain.manifest_sha256": manifest_sha256,
            **lineage.tags(),
        }
        mv = self.client.create_model_version(
            card.name,
            source=f"{run.info.artifact_uri}/{ARTIFACT_DIR}",
            run_id=run.info.run_id,
            tags=tags,
            description=card.to_markdown(),
        )
        # The signature binds the version number, which MLflow draws only now (from every version ever
        # made, deleted ones too); until this tag is set the version reads as unsigned and is not loaded.
        signature = sign(int(mv.version))
        self.client.set_model_version_tag(card.name, mv.version, signing.TAG, signature)
        # The registered model always describes its newest card.
        updated = self.client.update_registered_model(card.name, description=card.to_markdown())
        if existing is not None:
            old_tags = existing.tags or {}
            for key, value in model_tags(card).items():
                if old_tags.get(key) != value:
                    self.client.set_registered_model_tag(card.name, key, value)
        return replace(to_version(mv, {}), manifest_hmac=signature), updated

    def _experiment(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(EXPERIMENT)
            if found is not None:
                self._experiment_id = found.experiment_id
            else:
                artifact_root = self.settings.artifact_uri.rstrip("/") + f"/{EXPERIMENT}"
                try:
                    self._experiment_id = self.client.create_experiment(
                        EXPERIMENT, artifact_location=artifact_root
                    )
                except MlflowException:  # created concurrently by another process
                    again = self.client.get_experiment_by_name(EXPERIMENT)
                    assert again is not None
                    self._experiment_id = again.experiment_id
        return self._experiment_id

    # --- reading -----------------------------------------------------------------------------

    def registered(self, name: str) -> RegisteredModel | None:
        try:
            return self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def require(self, name: str) -> RegisteredModel:
        """The registered model of ``name``; ComponentNotFound when there is none."""
        model = self.registered(name)
        if model is None:
            raise ComponentNotFound(name)
        return model

    def raw_versions(self, name: str) -> list[ModelVersion]:
        found: list[ModelVersion] = []
        token: str | None = None
        while True:
            page = self.client.search_model_versions(f"name = '{name}'", max_results=1000, page_token=token)
            found += page
            token = page.token
            if not token:
                return found

    def count_registered(self) -> int:
        count = 0
        token: str | None = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            count += len(page)
            token = page.token
            if not token:
                return count

    def newest_first(self) -> Iterator[RegisteredModel]:
        """Every registered model, the most recently updated first (read page by page, lazily)."""
        token: str | None = None
        while True:
            page = self.client.search_registered_models(
                order_by=["last_updated_timestamp DESC"], max_results=200, page_token=token
            )
            yield from page
            token = page.token
            if not token:
                return

    def versions(self, name: str) -> list[Version]:
        aliases = dict(self.require(name).aliases or {})
        return sorted((to_version(mv, aliases) for mv in self.raw_versions(name)), key=lambda v: v.version)

    def version(self, name: str, ref: str | int | None = None) -> Version:
        """A version by number, by alias, or (``None``) production, else the newest active one."""
        aliases = dict(self.require(name).aliases or {})
        if ref is None:
            if "production" in aliases:
                ref = int(aliases["production"])
            else:
                active = [v for v in self.versions(name) if v.status == "active"]
                if not active:
                    raise ComponentNotFound(name, "active")
                return active[-1]
        number = version_number(name, ref, aliases)
        try:
            mv = self.client.get_model_version(name, str(number))
        except MlflowException:
            raise ComponentNotFound(name, number) from None
        return to_version(mv, aliases)

    def info(self, name: str) -> ComponentInfo:
        return info_of(self.require(name), self.raw_versions(name))

    def all_info(self) -> dict[str, ComponentInfo]:
        # Two paginated searches instead of two queries per component: refreshing 500 routes one by
        # one kept a replica's refresher thread (and the GIL) busy without pause.
        models: list[RegisteredModel] = []
        token: str | None = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            models += page
            token = page.token
            if not token:
                break
        versions: dict[str, list[ModelVersion]] = {}
        for mv in self.every_version():
            versions.setdefault(mv.name, []).append(mv)
        return {m.name: info_of(m, versions.get(m.name, [])) for m in models}

    def tagged_with_prefix(self, tag: str, prefix: str, limit: int) -> list[ModelVersion]:
        """Up to ``limit`` versions whose tag ``tag`` starts with ``prefix``, in one filtered search."""
        found = self.client.search_model_versions(f"tags.`{tag}` LIKE '{prefix}%'", max_results=limit)
        return list(found)

    def every_version(self) -> Iterator[ModelVersion]:
        """Every version of every component, in one paginated search."""
        token: str | None = None
        while True:
            found = self.client.search_model_versions(max_results=10_000, page_token=token)
            yield from found
            token = found.token
            if not token:
                return

    def dedicated(self) -> dict[str, ServingPolicy]:
        found: dict[str, ServingPolicy] = {}
        token = None
        while True:
            page = self.client.search_registered_models(
                filter_string="tags.`brain.dedicated` = 'true'", max_results=1000, page_token=token
            )
            for model in page:
                found[model.name] = serving_of(dict(model.tags or {}))
            token = page.token
            if not token:
                return found

    def card_of(self, mv: ModelVersion) -> Card:
        """The card stored with a version's artifacts."""
        import mlflow.artifacts

        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{mv.source}/card.json", dst_path=tmp, tracking_uri=self.settings.tracking_uri
            )
            return Card.model_validate_json(Path(path).read_text(encoding="utf-8"))
