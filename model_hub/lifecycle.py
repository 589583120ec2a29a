"""The lifecycle of a component's versions: aliases (promote, roll back), deprecation, canary splits
and the serving policy — the rules, kept as aliases and tags of the registered model in MLflow.

The registry re-indexes the catalogue after each change that the catalogue shows.
"""

from __future__ import annotations

import json

from mlflow.entities.model_registry import RegisteredModel

from model_hub.errors import BadReference, HubError
from model_hub.serving_policy import ServingPolicy
from model_hub.store import ComponentStore
from model_hub.versions import ALIASES, Version

#: How many earlier production versions a component remembers for `rollback`.
HISTORY = 50


def production_history(model: RegisteredModel) -> list[int]:
    raw = (model.tags or {}).get("brain.production_history", "[]")
    return [int(v) for v in json.loads(raw)]


class Lifecycle:
    """Moves aliases and status tags by the rules; reads and writes through the store."""

    def __init__(self, store: ComponentStore) -> None:
        self.store = store

    def promote(self, name: str, version: int, alias: str = "production") -> Version:
        if alias not in ALIASES:
            raise BadReference(f"unknown alias {alias!r}; use one of {list(ALIASES)}")
        target = self.store.version(name, version)
        if target.status != "active":
            raise HubError(f"{name} version {version} is deprecated; register or pick an active version")
        model = self.store.require(name)
        current = (model.aliases or {}).get(alias)
        client = self.store.client
        if alias == "production" and current is not None and int(current) != version:
            history = production_history(model)
            history.append(int(current))
            client.set_registered_model_tag(name, "brain.production_history", json.dumps(history[-HISTORY:]))
        client.set_registered_model_alias(name, alias, str(version))
        return self.store.version(name, version)

    def rollback(self, name: str, to: int | None = None) -> Version:
        """Point ``production`` back at the previous production version (or at ``to``)."""
        model = self.store.require(name)
        history = production_history(model)
        current = (model.aliases or {}).get("production")
        if to is None:
            while history and (
                self.store.version(name, history[-1]).status != "active" or str(history[-1]) == str(current)
            ):
                history.pop()
            if not history:
                raise HubError(
                    f"{name} has no earlier production version to roll back to; "
                    f"use `brain components promote {name} VERSION`"
                )
            to = history.pop()
        elif self.store.version(name, to).status != "active":
            raise HubError(f"{name} version {to} is deprecated and cannot take production")
        client = self.store.client
        client.set_registered_model_alias(name, "production", str(to))
        client.set_registered_model_tag(name, "brain.production_history", json.dumps(history))
        return self.store.version(name, to)

    def deprecate(self, name: str, version: int | None = None, replacement: str | None = None) -> None:
        """Deprecate one version (it can no longer take an alias) or the whole component, which the
        capability centre then stops serving (410, naming ``replacement`` when there is one)."""
        self.store.require(name)
        if replacement is not None:
            if version is not None:
                raise BadReference("a replacement goes with deprecating the whole component, not a version")
            if replacement == name:
                raise BadReference(f"{name} cannot replace itself")
            self.store.require(replacement)
        if version is None:
            client = self.store.client
            client.set_registered_model_tag(name, "brain.deprecated", "true")
            if replacement is not None:
                client.set_registered_model_tag(name, "brain.replaced_by", replacement)
            return
        target = self.store.version(name, version)
        if target.aliases:
            raise HubError(
                f"{name} version {version} holds the alias(es) {list(target.aliases)}; promote "
                f"another version or roll back first"
            )
        self.store.client.set_model_version_tag(name, str(version), "brain.status", "deprecated")

    def set_canary(self, name: str, version: int, percent: float) -> None:
        """Send ``percent`` of the calls that name no version to ``version`` (ops: 90/10 rollouts)."""
        if not 0 < percent < 100:
            raise BadReference(f"canary percent must be between 0 and 100 (exclusive), got {percent}")
        target = self.store.version(name, version)
        if target.status != "active":
            raise HubError(f"{name} version {version} is deprecated and cannot take canary traffic")
        payload = json.dumps({"version": version, "percent": percent})
        self.store.client.set_registered_model_tag(name, "brain.canary", payload)

    def clear_canary(self, name: str) -> None:
        self.store.require(name)
        self.store.client.delete_registered_model_tag(name, "brain.canary")

    def set_serving(self, name: str, policy: ServingPolicy) -> None:
        """Batching and scaling of ``name`` (ops); replicas pick it up with the component's route."""
        self.store.require(name)
        client = self.store.client
        client.set_registered_model_tag(name, "brain.serving", policy.model_dump_json())
        # A tag of its own, so the runner can find the dedicated ones with one search.
        client.set_registered_model_tag(name, "brain.dedicated", "true" if policy.dedicated else "false")
