"""A Python client of the capability centre's registry API (`registry_routes`), what `brain components`
uses when it is given a platform URL and key.

Models are converted on the client: what travels is ONNX, torch as JSON + safetensors, or a
formula's JSON, never a pickle (the server refuses those unread).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

#: Where `brain components` looks for a profile (url, key) when none is named.
DEFAULT_PROFILE = Path("~/.config/industry-brain/profile.yaml")


class RegistryAPIError(Exception):
    """An answer other than success: the status and the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Profile:
    """Where the platform is and which key to use."""

    url: str
    key: str

    @classmethod
    def read(cls, path: Path) -> Profile:
        """A YAML file ``url: …`` and ``key: …`` (keep it mode 0600: it holds a key)."""
        try:
            data = yaml.safe_load(path.expanduser().read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RegistryAPIError(400, f"cannot read the profile {str(path)!r}: {exc}") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("url"), str)
            or not isinstance(data.get("key"), str)
        ):
            raise RegistryAPIError(400, f"the profile {str(path)!r} must hold `url: …` and `key: …`")
        return cls(data["url"], data["key"])


class RegistryClient:
    """The registry API of one capability centre, with one key."""

    def __init__(self, url: str, key: str, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {key}"}
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register(
        self,
        card: dict[str, Any],
        files: dict[str, bytes],
        *,
        lineage: dict[str, str] | None = None,
        new_version: bool = False,
    ) -> dict[str, Any]:
        """Register a component (or, with ``new_version``, a version of it) from its artifact files."""
        path = f"/api/v1/components/{card['name']}/versions" if new_version else "/api/v1/components"
        data = {"card": json.dumps(card, ensure_ascii=False)}
        if lineage:
            data["lineage"] = json.dumps(lineage)
        parts = [("files", (name, content)) for name, content in files.items()]
        return self._json(self._http.post(path, data=data, files=parts))

    def register_pipeline(
        self,
        spec: dict[str, Any],
        *,
        lineage: dict[str, str] | None = None,
        new_version: bool = False,
    ) -> dict[str, Any]:
        """Register a pipeline (or a version of it) from its spec, sent as ``pipeline.json``."""
        path = f"/api/v1/components/{spec['name']}/versions" if new_version else "/api/v1/components"
        data = {"lineage": json.dumps(lineage)} if lineage else {}
        content = json.dumps(spec, ensure_ascii=False).encode("utf-8")
        return self._json(self._http.post(path, data=data, files=[("files", ("pipeline.json", content))]))

    def components(self, **query: Any) -> dict[str, Any]:
        return self._json(self._http.get("/api/v1/components", params=query))

    def show(self, name: str) -> dict[str, Any]:
        return self._json(self._http.get(f"/api/v1/components/{name}"))

    def promote(self, name: str, version: int, alias: str = "production") -> dict[str, Any]:
        return self._change("POST", name, "promote", {"version": version, "alias": alias})

    def rollback(self, name: str, to: int | None = None) -> dict[str, Any]:
        return self._change("POST", name, "rollback", {"to": to})

    def deprecate(
        self, name: str, version: int | None = None, replacement: str | None = None
    ) -> dict[str, Any]:
        return self._change("POST", name, "deprecate", {"version": version, "replacement": replacement})

    def set_canary(self, name: str, version: int, percent: float) -> dict[str, Any]:
        return self._change("PUT", name, "canary", {"version": version, "percent": percent})

    def clear_canary(self, name: str) -> dict[str, Any]:
        return self._json(self._http.delete(f"/api/v1/components/{name}/canary"))

    def set_serving(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._change("PUT", name, "serving", changes)

    def set_drift_threshold(self, name: str, threshold: float | None) -> dict[str, Any]:
        """Set (or, with None, clear) the PSI at which the component's drift raises an event."""
        body = {"drift_threshold": threshold}  # sent even when None: that clears it
        return self._json(self._http.put(f"/api/v1/components/{name}/serving", json=body))

    def drift(self, name: str) -> dict[str, Any]:
        """The drift scores of a component's monitored versions (`GET /api/v1/components/NAME/drift`)."""
        return self._json(self._http.get(f"/api/v1/components/{name}/drift"))

    def payloads(self, name: str, version: int | None = None, limit: int = 100) -> dict[str, Any]:
        """The newest payload samples of a private component of the key's tenant."""
        params: dict[str, Any] = {"limit": limit} | ({"version": version} if version is not None else {})
        return self._json(self._http.get(f"/api/v1/components/{name}/payloads", params=params))

    def purge_payloads(self, name: str) -> dict[str, Any]:
        return self._json(self._http.delete(f"/api/v1/components/{name}/payloads"))

    def export(self, name: str, version: str | int | None, dest: Path) -> Path:
        """Unpack a version's verified artifact folder into ``dest/NAME-vVERSION``."""
        params = {"version": str(version)} if version is not None else {}
        response = self._http.get(f"/api/v1/components/{name}/export", params=params)
        self._check(response)
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        disposition = response.headers.get("content-disposition", "")
        stem = disposition.partition('filename="')[2].removesuffix('"').removesuffix(".zip") or name
        target = dest / Path(stem).name
        if target.exists():
            raise RegistryAPIError(409, f"{str(target)!r} already exists; remove it or export somewhere else")
        target.mkdir(parents=True)
        for member in archive.namelist():
            # Names come from the server; still, nothing is written outside the target folder.
            out = (target / member).resolve()
            if not out.is_relative_to(target.resolve()):
                raise RegistryAPIError(502, f"the export holds a path outside its folder: {member!r}")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(member))
        return target

    def _change(self, method: str, name: str, what: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = {k: v for k, v in body.items() if v is not None}
        return self._json(self._http.request(method, f"/api/v1/components/{name}/{what}", json=payload))

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        self._check(response)
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            message = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            message = response.text[:300] or response.reason_phrase
        raise RegistryAPIError(response.status_code, f"{response.status_code}: {message}")
