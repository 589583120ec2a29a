"""Validate manifests against the KubeRay CRDs' OpenAPI v3 schemas with jsonschema.

A CRD's ``openAPIV3Schema`` is almost JSON Schema; the differences are Kubernetes extensions, mapped here
the way the API server reads them:

- ``x-kubernetes-int-or-string: true`` → an integer or a string (``cpu: 2`` and ``cpu: "500m"``);
- ``nullable: true`` → null is allowed as well;
- ``x-kubernetes-preserve-unknown-fields`` / ``x-kubernetes-embedded-resource`` → unknown fields allowed;
- ``x-kubernetes-list-type: set`` → items unique;
- everywhere else an object with ``properties`` gets ``additionalProperties: false``. The API server would
  silently prune an unknown field; a test should fail on it instead, because it is a typo that loses
  configuration (e.g. ``rayStartParam``).

``x-kubernetes-validations`` (CEL rules) cannot be evaluated here; in the KubeRay CRDs they only make
fields immutable and restrict ``managedBy``, which we never set. ``x-kubernetes-list-map-keys`` is not
checked either (keys unique within a list map).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CRD_DIR = Path(__file__).resolve().parents[4].parent / "shared" / "k8s" / "kuberay-crds"
CRD_FILES = {"RayService": "ray.io_rayservices.yaml", "RayCluster": "ray.io_rayclusters.yaml"}


def to_json_schema(node: Any) -> Any:
    """The JSON Schema equivalent of one OpenAPI v3 (structural) schema node, recursively."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "format"):
            continue
        else:
            out[key] = to_json_schema(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}], **out}
    open_object = node.get("x-kubernetes-preserve-unknown-fields") or node.get(
        "x-kubernetes-embedded-resource"
    )
    if "properties" in node and "additionalProperties" not in node and not open_object:
        out["additionalProperties"] = False
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


@functools.cache
def _validator(kind: str, version: str) -> jsonschema.Draft7Validator:
    path = CRD_DIR / CRD_FILES[kind]
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema = to_json_schema(entry["schema"]["openAPIV3Schema"])
            jsonschema.Draft7Validator.check_schema(schema)
            return jsonschema.Draft7Validator(schema)
    raise AssertionError(f"{path.name} has no version {version}")


def require_crds() -> None:
    missing = [name for name in CRD_FILES.values() if not (CRD_DIR / name).is_file()]
    if missing:
        pytest.skip(
            f"KubeRay CRDs not found in {CRD_DIR} (missing {', '.join(missing)}); they come with shared/"
        )


def errors(manifest: dict[str, Any]) -> list[str]:
    """Every schema violation of ``manifest`` as 'path: message' (empty when it is valid)."""
    require_crds()
    group, _, version = manifest["apiVersion"].partition("/")
    assert group == "ray.io", manifest["apiVersion"]
    validator = _validator(manifest["kind"], version)
    found = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def assert_valid(manifest: dict[str, Any]) -> None:
    problems = errors(manifest)
    assert not problems, f"{manifest['kind']} {manifest['metadata']['name']} breaks the CRD:\n" + "\n".join(
        problems[:20]
    )
