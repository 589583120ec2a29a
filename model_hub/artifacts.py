"""A version's artifact folder on local disk: fetched once into the cache, verified against the sha256
of its manifest recorded at registration (itself signed with the platform's key), never trusted
otherwise."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from model_hub import safety, signing, torch_module
from model_hub.card import Card
from model_hub.errors import HubError
from model_hub.settings import HubSettings
from model_hub.versions import Version


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
        return str(spec["entrypoint"]), dict(spec["parameters"])


def card_at(folder: Path) -> Card:
    return Card.model_validate_json((folder / "card.json").read_text(encoding="utf-8"))


def local_folder(uri: str) -> Path | None:
    """The folder a ``file:`` artifact URI (or a plain path) names, when it is one on this machine."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file") or parsed.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parsed.path))
    return path if path.is_dir() else None


class ArtifactCache:
    """Verified artifact folders in ``$BRAIN_HOME/cache/NAME/VERSION``, shared by a node's processes."""

    def __init__(self, settings: HubSettings, key: signing.RegistryKey) -> None:
        self.settings = settings
        self.key = key

    def fetch(self, version: Version) -> Loaded:
        """Fetch and verify ``version`` as read from the registry (say by ``all_info``), without
        asking MLflow about it again: half the cost of a cold load in a serving replica."""
        name = version.name
        if not version.manifest_sha256:
            raise HubError(
                f"{name} version {version.version} has no recorded sha256; it was not registered here"
            )
        # Before anything is fetched or a cached copy trusted: the hash itself must be the platform's.
        self.key.verify(version)
        cache = self.settings.home_dir / "cache" / name / str(version.version)
        if cache.exists():
            try:
                safety.verify_manifest(cache, version.manifest_sha256)
                return Loaded(version, card_at(cache), cache)
            except HubError:
                shutil.rmtree(cache)  # a stale or damaged cache is refetched, never trusted
        import mlflow.artifacts

        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache.parent, prefix=".fetch-") as tmp:
            local = local_folder(version.source)
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
        return Loaded(version, card_at(cache), cache)


def export(loaded: Loaded, dest: str | Path) -> Path:
    """Copy a verified version's artifact folder to ``dest``."""
    target = Path(dest) / f"{loaded.version.name}-v{loaded.version.version}"
    if target.exists():
        raise HubError(f"{str(target)!r} already exists; remove it or export somewhere else")
    shutil.copytree(loaded.path, target)
    return target
