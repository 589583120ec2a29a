"""The registry key: a secret the platform holds, and the HMAC that binds a version's manifest to it.

The sha256 of a version's manifest is a tag in MLflow, and so is everything else about the version:
whoever can write to MLflow could upload other artifacts and rewrite that tag, and the sha256 check
at load would pass. So the tag is signed at registration, ``HMAC-SHA256(key, name, format,
manifest sha256)``, with a key that lives outside MLflow, and every load checks the signature before
it fetches anything. Write access to MLflow alone can then no longer swap a model.

The key comes from ``BRAIN_REGISTRY_KEY`` (Kubernetes: a Secret), else from the file
``$BRAIN_HOME/run/registry_key`` (mode 0600), created at first use. Migration: versions registered
before signing carry no signature. When this process creates the key file, the registry signs every
unsigned version once, after checking its artifacts against its recorded manifest (trust on first
use); afterwards an unsigned version is refused until an operator signs it explicitly
(`brain components sign`). A signature that is present but wrong is never re-signed automatically.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from model_hub.errors import ManifestUnsigned, SignatureMismatch
from model_hub.settings import HubSettings
from model_hub.versions import Version

#: The version tag that holds the signature.
TAG = "brain.manifest_hmac"


@dataclass(frozen=True)
class RegistryKey:
    """The platform's registry key; ``created`` when this process made the key file just now."""

    secret: bytes
    created: bool = False

    def sign(self, name: str, fmt: str, manifest_sha256: str) -> str:
        message = f"{name}\n{fmt}\n{manifest_sha256}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, version: Version) -> None:
        """Raise unless ``version``'s manifest hash carries this platform's signature."""
        if not version.manifest_hmac:
            raise ManifestUnsigned(version.name, version.version)
        expected = self.sign(version.name, version.format, version.manifest_sha256)
        if not hmac.compare_digest(expected, version.manifest_hmac):
            raise SignatureMismatch(version.name, version.version)


def key_file(settings: HubSettings) -> Path:
    return settings.registry_key_file or settings.home_dir / "run" / "registry_key"


def platform_key(settings: HubSettings) -> RegistryKey:
    """The key from the setting, else from its file (created, 0600, when there is none)."""
    if settings.registry_key is not None:
        value = settings.registry_key.get_secret_value().encode()
        if len(value) < 32:
            raise ValueError(
                "BRAIN_REGISTRY_KEY must hold at least 32 characters (e.g. `openssl rand -hex 32`)"
            )
        return RegistryKey(value)
    path = key_file(settings)
    try:
        return RegistryKey(path.read_bytes().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting together one creates the key, the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return RegistryKey(_read_when_written(path))
    secret = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return RegistryKey(secret, created=True)


def _read_when_written(path: Path) -> bytes:
    import time

    deadline = time.monotonic() + 5
    while True:
        value = path.read_bytes().strip()
        if value or time.monotonic() > deadline:
            if not value:
                raise ValueError(f"the registry key file {str(path)!r} is empty; remove it to make a new one")
            return value
        time.sleep(0.01)
