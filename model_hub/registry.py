"""The component registry on MLflow: register, version, promote, roll back, deprecate, load.

Layout in MLflow (what the MLflow UI shows):
- one registered model per component; its description is the card in Markdown and its tags
  carry the fields the catalogue filters on (``brain.kind``, ``brain.industries`` …);
- one run per version in the experiment ``brain-components``, whose ``component/`` artifact folder
  holds the model files, ``card.json`` and ``manifest.json`` (sha256 of every file);
- one model version per registration, tagged with its format, status, lineage and the sha256 of
  its manifest. The manifest hash lives in the database, so changing any artifact file in the
  store is detected at load.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException

from model_hub import convert, safety, torch_module
from model_hub.card import NUMPY_DTYPES, Card
from model_hub.catalog import Catalog, Page, Query, Viewer
from model_hub.code import resolve_entrypoint
from model_hub.errors import (
    ComponentExists,
    ComponentNotFound,
    FormulaRejected,
    HubError,
    TorchRejected,
)
from model_hub.serving_policy import ServingPolicy
from model_hub.settings import HubSettings

log = logging.getLogger(__name__)

EXPERIMENT = "brain-components"
ARTIFACT_DIR = "component"
ALIASES = ("staging", "production")
FORMATS = ("onnx", "torch", "formula", "pickle")


class NotOwner(HubError):
    status = 403

    def __init__(self, name: str, owner: str, caller: str) -> None:
        super().__init__(
            f"component {name!r} belongs to {owner!r}; {caller!r} cannot add versions to it. "
            f"Ask its owner, or register under another name"
        )


class BadReference(HubError):
    status = 400


@dataclass(frozen=True)
class Lineage:
    """Where a version came from."""

    training_job: str | None = None
    data_snapshot: str | None = None
    git_commit: str | None = None

    def tags(self) -> dict[str, str]:
        return {
            f"brain.lineage.{k}": v
            for k, v in (
                ("training_job", self.training_job),
                ("data_snapshot", self.data_snapshot),
                ("git_commit", self.git_commit),
            )
            if v
        }


@dataclass(frozen=True)
class Version:
    name: str
    version: int
    format: str
    status: str
    aliases: tuple[str, ...]
    manifest_sha256: str
    source: str
    created_ms: int
    lineage: Lineage = field(default_factory=Lineage)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "format": self.format,
            "status": self.status,
            "aliases": list(self.aliases),
            "manifest_sha256": self.manifest_sha256,
            "source": self.source,
            "created_ms": self.created_ms,
            "lineage": {k: v for k, v in vars(self.lineage).items() if v},
        }


@dataclass(frozen=True)
class ComponentInfo:
    """A component's routing state: its versions, aliases, canary split and deprecation."""

    name: str
    versions: tuple[Version, ...]
    aliases: dict[str, int]
    deprecated: bool
    canary: tuple[int, float] | None  # (version, percent of default-routed calls)
    serving: ServingPolicy = field(default_factory=ServingPolicy)


@dataclass(frozen=True)
class Loaded:
    """A version's verified artifact folder on local disk."""

    version: Version
    card: Card
    path: Path

    @property
    def onnx_path(self) -> Path:
        return self.path / "model.onnx"

    def torch_module(self, allowed: list[str]) -> Any:
        """The ``nn.Module`` of a torch version, rebuilt from its code path and safetensors weights."""
        return torch_module.build(self.path, allowed)

    def formula(self) -> tuple[str, dict[str, Any]]:
        spec = json.loads((self.path / "formula.json").read_text(encoding="utf-8"))
        return spec["entrypoint"], spec["parameters"]


def _onnx_requirements() -> list[str]:
    import importlib.metadata as md

    return [f"{p}=={md.version(p)}" for p in ("mlflow", "onnx", "onnxruntime", "numpy")]


def signature_from_card(card: Card) -> Any:
    """The MLflow model signature the card implies (so `mlflow models serve` validates inputs)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    def schema(specs: list[Any]) -> Schema:
        return Schema(
            [TensorSpec(NUMPY_DTYPES[s.datatype], tuple(s.shape), s.name) for s in specs]
        )

    return ModelSignature(inputs=schema(card.inputs), outputs=schema(card.outputs))


def resolve_formula(entrypoint: str, allowed: list[str]) -> Callable[..., Any]:
    """Import a formula's ``package.module:function`` if it lives in an allowed package."""
    return resolve_entrypoint(entrypoint, allowed, "formula", FormulaRejected)


class Registry:
    """The component registry. One instance per process; safe to share between threads."""

    def __init__(self, settings: HubSettings | None = None) -> None:
        self.settings = settings or HubSettings()
        self.settings.home_dir.mkdir(parents=True, exist_ok=True)
        uri = self.settings.tracking_uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.catalog = Catalog(self.settings.catalog_file)
        self._experiment_id: str | None = None

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
        with tempfile.TemporaryDirectory(prefix="brain-onnx-") as tmp:
            if isinstance(model, onnx.ModelProto):
                src = Path(tmp) / "in" / "model.onnx"
                src.parent.mkdir()
                onnx.save(model, str(src))
            else:
                src = Path(model)
                if not src.is_file():
                    raise HubError(f"ONNX file {str(src)!r} does not exist")
            # Size first, so nothing oversized is parsed; the folder check in _register then
            # covers external data too.
            safety.check_size(src.stat().st_size, self._limit())
            safety.check_onnx(src)
            full = onnx.load(str(src), load_external_data=True)
            convert.check_interface(full, card)
            return self._register(
                card, "onnx", lambda d: self._write_onnx(d, full, card), lineage, new_version
            )

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
        samples = dict(inputs) if inputs is not None else convert.sample_inputs(card.inputs)
        model = convert.torch_to_onnx(
            module, card, samples, self.settings.verify_atol, self.settings.verify_rtol
        )
        return self.register_onnx(card, model, lineage=lineage, new_version=new_version)

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

        return self._register(card, "torch", write, lineage, new_version)

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
        model = convert.sklearn_to_onnx(
            estimator, card, inputs, self.settings.verify_atol, self.settings.verify_rtol
        )
        return self.register_onnx(card, model, lineage=lineage, new_version=new_version)

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
        resolve_formula(entrypoint, self.settings.formula_packages)
        try:
            params_json = json.dumps(dict(parameters or {}), ensure_ascii=False, sort_keys=True, indent=1)
        except (TypeError, ValueError) as exc:
            raise FormulaRejected(f"formula parameters must be plain JSON: {exc}") from None

        def write(folder: Path) -> None:
            spec = {"entrypoint": entrypoint, "parameters": json.loads(params_json)}
            (folder / "formula.json").write_text(json.dumps(spec, ensure_ascii=False, indent=1), "utf-8")

        return self._register(card, "formula", write, lineage, new_version)

    def register_pickle(
        self,
        card: Card,
        path: str | Path,
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Store a pickle-based model file as-is. Only private components may do this."""
        safety.check_format_allowed("pickle", card.visibility)
        src = Path(path)
        if not src.is_file():
            raise HubError(f"model file {str(src)!r} does not exist")
        safety.check_size(src.stat().st_size, self._limit())
        return self._register(
            card, "pickle", lambda d: shutil.copy2(src, d / f"model{src.suffix}"), lineage, new_version
        )

    def register_file(
        self,
        card: Card,
        path: str | Path,
        *,
        lineage: Lineage | None = None,
        new_version: bool = False,
    ) -> Version:
        """Register a model file by its suffix: ``.onnx`` or a pickle-based format."""
        suffix = Path(path).suffix.lower()
        if suffix == ".onnx":
            return self.register_onnx(card, path, lineage=lineage, new_version=new_version)
        if suffix in safety.PICKLE_SUFFIXES:
            return self.register_pickle(card, path, lineage=lineage, new_version=new_version)
        raise HubError(
            f"cannot tell the format of {Path(path).name!r}: use an .onnx file, or a pickle-based "
            f"file ({', '.join(sorted(safety.PICKLE_SUFFIXES))}) for a private component"
        )

    def _limit(self) -> int:
        return self.settings.max_model_bytes

    def _write_onnx(self, folder: Path, model: onnx.ModelProto, card: Card) -> None:
        import mlflow.onnx

        # mlflow's saver wants an empty target; it also writes MLmodel so that
        # `mlflow models serve -m models:/NAME/VERSION` can serve the same artifact.
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

    def _register(
        self,
        card: Card,
        fmt: str,
        write: Callable[[Path], object],
        lineage: Lineage | None,
        new_version: bool,
    ) -> Version:
        safety.check_format_allowed(fmt, card.visibility)
        existing = self._registered(card.name)
        if existing is not None:
            has_versions = bool(self._versions_raw(card.name))
            owner = existing.tags.get("brain.owner", card.owner)
            if has_versions and not new_version:
                raise ComponentExists(card.name)
            if owner != card.owner:
                raise NotOwner(card.name, owner, card.owner)
        with tempfile.TemporaryDirectory(prefix="brain-reg-") as tmp:
            folder = Path(tmp) / ARTIFACT_DIR
            folder.mkdir()
            write(folder)
            (folder / "card.json").write_text(card.model_dump_json(indent=1), encoding="utf-8")
            safety.check_size(safety.folder_size(folder), self._limit())
            manifest_sha = safety.write_manifest(folder)
            if existing is None:
                self.client.create_registered_model(card.name, tags=self._model_tags(card))
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
            "brain.manifest_sha256": manifest_sha,
            **(lineage or Lineage()).tags(),
        }
        mv = self.client.create_model_version(
            card.name,
            source=f"{run.info.artifact_uri}/{ARTIFACT_DIR}",
            run_id=run.info.run_id,
            tags=tags,
            description=card.to_markdown(),
        )
        # The registered model always describes its newest card.
        updated = self.client.update_registered_model(card.name, description=card.to_markdown())
        old_tags = (existing.tags or {}) if existing is not None else {}
        if existing is not None:
            for key, value in self._model_tags(card).items():
                if old_tags.get(key) != value:
                    self.client.set_registered_model_tag(card.name, key, value)
        # Index from what we already know instead of reading the model back (a quarter of the cost).
        production = dict((existing.aliases or {}) if existing is not None else {}).get("production")
        self.catalog.upsert(
            card,
            latest_version=int(mv.version),
            production_version=int(production) if production is not None else None,
            deprecated=old_tags.get("brain.deprecated") == "true",
            updated_ms=int(updated.last_updated_timestamp or time.time() * 1000),
        )
        return self._to_version(mv, {})

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

    @staticmethod
    def _model_tags(card: Card) -> dict[str, str]:
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

    # --- reading -----------------------------------------------------------------------------

    def _registered(self, name: str) -> RegisteredModel | None:
        try:
            return self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def _versions_raw(self, name: str) -> list[ModelVersion]:
        found: list[ModelVersion] = []
        token: str | None = None
        while True:
            page = self.client.search_model_versions(f"name = '{name}'", max_results=1000, page_token=token)
            found += page
            token = page.token
            if not token:
                return found

    def count_registered(self) -> int:
        """How many registered models MLflow holds (for consistency checks)."""
        count = 0
        token: str | None = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            count += len(page)
            token = page.token
            if not token:
                return count

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
        model = self._registered(name)
        if model is None:
            raise ComponentNotFound(name)
        aliases = dict(model.aliases or {})
        return sorted(
            (self._to_version(mv, aliases) for mv in self._versions_raw(name)), key=lambda v: v.version
        )

    def info(self, name: str) -> ComponentInfo:
        model = self._registered(name)
        if model is None:
            raise ComponentNotFound(name)
        return self._info(model, self._versions_raw(name))

    def all_info(self) -> dict[str, ComponentInfo]:
        """Every component's routing state, in a few bulk queries (what replicas refresh routes with).

        Two paginated searches instead of two queries per component: refreshing 500 routes one by
        one kept a replica's refresher thread (and the GIL) busy without pause.
        """
        models: list[RegisteredModel] = []
        token: str | None = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            models += page
            token = page.token
            if not token:
                break
        versions: dict[str, list[ModelVersion]] = {}
        token = None
        while True:
            found = self.client.search_model_versions(max_results=10_000, page_token=token)
            for mv in found:
                versions.setdefault(mv.name, []).append(mv)
            token = found.token
            if not token:
                break
        return {m.name: self._info(m, versions.get(m.name, [])) for m in models}

    def _info(self, model: RegisteredModel, raw: list[ModelVersion]) -> ComponentInfo:
        aliases = {a: int(v) for a, v in (model.aliases or {}).items()}
        tags = dict(model.tags or {})
        canary = None
        if tags.get("brain.canary"):
            spec = json.loads(tags["brain.canary"])
            canary = (int(spec["version"]), float(spec["percent"]))
        versions = tuple(sorted((self._to_version(mv, aliases) for mv in raw), key=lambda v: v.version))
        return ComponentInfo(
            model.name, versions, aliases, tags.get("brain.deprecated") == "true", canary, _serving(tags)
        )

    def set_serving(self, name: str, policy: ServingPolicy) -> None:
        """Batching and scaling of ``name`` (ops); replicas pick it up with the component's route."""
        if self._registered(name) is None:
            raise ComponentNotFound(name)
        self.client.set_registered_model_tag(name, "brain.serving", policy.model_dump_json())
        # A tag of its own, so the runner can find the dedicated ones with one search.
        self.client.set_registered_model_tag(name, "brain.dedicated", "true" if policy.dedicated else "false")

    def dedicated(self) -> dict[str, ServingPolicy]:
        """Components to be served by deployments of their own, with their policies."""
        found: dict[str, ServingPolicy] = {}
        token = None
        while True:
            page = self.client.search_registered_models(
                filter_string="tags.`brain.dedicated` = 'true'", max_results=1000, page_token=token
            )
            for model in page:
                found[model.name] = _serving(dict(model.tags or {}))
            token = page.token
            if not token:
                return found

    def set_canary(self, name: str, version: int, percent: float) -> None:
        """Send ``percent`` of the calls that name no version to ``version`` (ops: 90/10 rollouts)."""
        if not 0 < percent < 100:
            raise BadReference(f"canary percent must be between 0 and 100 (exclusive), got {percent}")
        target = self.version(name, version)
        if target.status != "active":
            raise HubError(f"{name} version {version} is deprecated and cannot take canary traffic")
        payload = json.dumps({"version": version, "percent": percent})
        self.client.set_registered_model_tag(name, "brain.canary", payload)

    def clear_canary(self, name: str) -> None:
        if self._registered(name) is None:
            raise ComponentNotFound(name)
        self.client.delete_registered_model_tag(name, "brain.canary")

    def version(self, name: str, ref: str | int | None = None) -> Version:
        """A version by number, by alias, or (``None``) production, else the newest active one."""
        model = self._registered(name)
        if model is None:
            raise ComponentNotFound(name)
        aliases = dict(model.aliases or {})
        if ref is None:
            if "production" in aliases:
                ref = int(aliases["production"])
            else:
                active = [v for v in self.versions(name) if v.status == "active"]
                if not active:
                    raise ComponentNotFound(name, "active")
                return active[-1]
        number = self._number(name, ref, aliases)
        try:
            mv = self.client.get_model_version(name, str(number))
        except MlflowException:
            raise ComponentNotFound(name, number) from None
        return self._to_version(mv, aliases)

    @staticmethod
    def _number(name: str, ref: str | int, aliases: Mapping[str, Any]) -> int:
        if isinstance(ref, int) or str(ref).isdigit():
            return int(ref)
        if ref in aliases:
            return int(aliases[str(ref)])
        if ref in ALIASES:
            raise ComponentNotFound(name, f"alias {ref!r} (not set; promote a version first)")
        raise BadReference(f"{ref!r} is neither a version number nor one of the aliases {list(ALIASES)}")

    @staticmethod
    def _to_version(mv: ModelVersion, aliases: Mapping[str, Any]) -> Version:
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
        )

    def load(self, name: str, ref: str | int | None = None) -> Loaded:
        """Fetch a version's artifacts into the local cache and verify them against the registry."""
        return self.fetch(self.version(name, ref))

    def fetch(self, version: Version) -> Loaded:
        """Fetch and verify ``version`` as read from the registry (say by ``all_info``), without
        asking MLflow about it again: half the cost of a cold load in a serving replica."""
        name = version.name
        if not version.manifest_sha256:
            raise HubError(
                f"{name} version {version.version} has no recorded sha256; it was not registered here"
            )
        cache = self.settings.home_dir / "cache" / name / str(version.version)
        if cache.exists():
            try:
                safety.verify_manifest(cache, version.manifest_sha256)
                return Loaded(version, self._card_at(cache), cache)
            except HubError:
                shutil.rmtree(cache)  # a stale or damaged cache is refetched, never trusted
        import mlflow.artifacts

        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache.parent, prefix=".fetch-") as tmp:
            local = _local_folder(version.source)
            if local is not None:
                # A file store: a plain copy. MLflow's download checks every path through a thread
                # pool, 7 of a cold load's 9 ms; the manifest check below is what guards the copy.
                fetched = Path(shutil.copytree(local, Path(tmp) / local.name))
            else:
                fetched = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=version.source, dst_path=tmp, tracking_uri=self.settings.tracking_uri
                    )
                )
            safety.verify_manifest(fetched, version.manifest_sha256)
            try:
                fetched.rename(cache)
            except OSError:
                # Another process (a second replica on this node) put the same version there first;
                # use theirs if it verifies, ours stays in the temporary folder and goes with it.
                if not cache.is_dir():
                    raise
                safety.verify_manifest(cache, version.manifest_sha256)
        return Loaded(version, self._card_at(cache), cache)

    @staticmethod
    def _card_at(folder: Path) -> Card:
        return Card.model_validate_json((folder / "card.json").read_text(encoding="utf-8"))

    def export(self, name: str, ref: str | int | None, dest: str | Path) -> Path:
        """Copy a verified version's artifact folder to ``dest``."""
        loaded = self.load(name, ref)
        target = Path(dest) / f"{name}-v{loaded.version.version}"
        if target.exists():
            raise HubError(f"{str(target)!r} already exists; remove it or export somewhere else")
        shutil.copytree(loaded.path, target)
        return target

    # --- lifecycle ---------------------------------------------------------------------------

    def promote(self, name: str, version: int, alias: str = "production") -> Version:
        if alias not in ALIASES:
            raise BadReference(f"unknown alias {alias!r}; use one of {list(ALIASES)}")
        target = self.version(name, version)
        if target.status != "active":
            raise HubError(f"{name} version {version} is deprecated; register or pick an active version")
        model = self._registered(name)
        assert model is not None
        current = (model.aliases or {}).get(alias)
        if alias == "production" and current is not None and int(current) != version:
            history = self._history(model)
            history.append(int(current))
            self.client.set_registered_model_tag(name, "brain.production_history", json.dumps(history[-50:]))
        self.client.set_registered_model_alias(name, alias, str(version))
        self._index(name)
        return self.version(name, version)

    def rollback(self, name: str, to: int | None = None) -> Version:
        """Point ``production`` back at the previous production version (or at ``to``)."""
        model = self._registered(name)
        if model is None:
            raise ComponentNotFound(name)
        history = self._history(model)
        current = (model.aliases or {}).get("production")
        if to is None:
            while history and (
                self.version(name, history[-1]).status != "active" or str(history[-1]) == str(current)
            ):
                history.pop()
            if not history:
                raise HubError(
                    f"{name} has no earlier production version to roll back to; "
                    f"use `brain components promote {name} VERSION`"
                )
            to = history.pop()
        elif self.version(name, to).status != "active":
            raise HubError(f"{name} version {to} is deprecated and cannot take production")
        self.client.set_registered_model_alias(name, "production", str(to))
        self.client.set_registered_model_tag(name, "brain.production_history", json.dumps(history))
        self._index(name)
        return self.version(name, to)

    @staticmethod
    def _history(model: RegisteredModel) -> list[int]:
        raw = (model.tags or {}).get("brain.production_history", "[]")
        return [int(v) for v in json.loads(raw)]

    def deprecate(self, name: str, version: int | None = None) -> None:
        """Deprecate one version (it can no longer take an alias) or the whole component."""
        model = self._registered(name)
        if model is None:
            raise ComponentNotFound(name)
        if version is None:
            self.client.set_registered_model_tag(name, "brain.deprecated", "true")
        else:
            target = self.version(name, version)
            if target.aliases:
                raise HubError(
                    f"{name} version {version} holds the alias(es) {list(target.aliases)}; promote "
                    f"another version or roll back first"
                )
            self.client.set_model_version_tag(name, str(version), "brain.status", "deprecated")
        self._index(name)

    # --- catalogue ---------------------------------------------------------------------------

    def search(self, query: Query, viewer: Viewer | None = None) -> Page:
        return self.catalog.search(query, viewer)

    def _index(self, name: str) -> None:
        model = self._registered(name)
        if model is None:
            self.catalog.remove(name)
            return
        self._index_model(model)

    def _index_model(self, model: RegisteredModel) -> None:
        name = model.name
        versions = self._versions_raw(name)
        if not versions:
            return
        card = self.catalog.card(name) or self._card_of(max(versions, key=lambda v: int(v.version)))
        aliases = dict(model.aliases or {})
        production = aliases.get("production")
        self.catalog.upsert(
            card,
            latest_version=max(int(v.version) for v in versions),
            production_version=int(production) if production is not None else None,
            deprecated=(model.tags or {}).get("brain.deprecated") == "true",
            updated_ms=int(model.last_updated_timestamp or time.time() * 1000),
        )

    def _card_of(self, mv: ModelVersion) -> Card:
        import mlflow.artifacts

        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{mv.source}/card.json", dst_path=tmp, tracking_uri=self.settings.tracking_uri
            )
            return Card.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def sync(self, full: bool = False) -> int:
        """Bring the catalogue up to date with MLflow; return how many components were (re)indexed.

        Incremental by default: registered models are read newest-first and reading stops at the
        first one the index already has at that timestamp.
        """
        if full:
            self.catalog.clear()
        newest = self.catalog.newest_update_ms()
        seen = 0
        token: str | None = None
        while True:
            page = self.client.search_registered_models(
                order_by=["last_updated_timestamp DESC"], max_results=200, page_token=token
            )
            for model in page:
                if not full and int(model.last_updated_timestamp or 0) <= newest:
                    return seen
                self._index_model(model)
                seen += 1
            token = page.token
            if not token:
                return seen


def _serving(tags: Mapping[str, str]) -> ServingPolicy:
    raw = tags.get("brain.serving")
    if not raw:
        return ServingPolicy()
    try:
        return ServingPolicy.model_validate_json(raw)
    except ValueError:
        # A tag edited by hand in the MLflow UI must not take the component offline.
        log.warning("ignoring an unreadable brain.serving tag: %s", raw[:200])
        return ServingPolicy()


def _local_folder(uri: str) -> Path | None:
    """The folder a ``file:`` artifact URI (or a plain path) names, when it is one on this machine."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file") or parsed.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parsed.path))
    return path if path.is_dir() else None
