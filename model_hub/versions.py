"""What the registry records about a component's versions: lineage, version, routing state.

Plain frozen dataclasses, read from MLflow by `model_hub.store` and handed to every caller of the
registry; no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from model_hub.serving_policy import ServingPolicy

#: The aliases a version can take; ``production`` is what calls that name no version get.
ALIASES = ("staging", "production")


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
    manifest_hmac: str = ""
    """The platform's signature of ``manifest_sha256`` (`model_hub.signing`)."""

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
    replaced_by: str | None = None
    """The component to use instead, named when the component was deprecated."""
