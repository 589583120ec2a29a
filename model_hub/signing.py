"""The registry key: a secret the platform holds, and the HMAC that binds a version to its manifest.

The sha256 of a version's manifest is a tag in MLflow, and so is everything else about the version:
whoever can write to MLflow could upload other artifacts and rewrite that tag, and the sha256 check
at load would pass. So every version is signed with a key that lives outside MLflow, and every load
checks the signature before it fetches anything. The signature is stored as ``v2:<hex>``, the
``HMAC-SHA256`` of the JSON array ``["brain.manifest.v2", name, version number, format, manifest
sha256]``: JSON quotes every string, so no two tuples share a message, and the version number is in
it, so copying version 1's artifacts and tags (its signature included) onto version 3 — a silent
rollback to an older model — no longer passes. Write access to MLflow alone can swap no model.

The key comes from ``BRAIN_REGISTRY_KEY`` (Kubernetes: a Secret), else from the file
``$BRAIN_HOME/run/registry_key`` (mode 0600), created at first use.

Migration, two rules (`Registry`):
- Versions registered before signing carry no signature. When this process creates the key file, the
  registry signs every unsigned version once, after checking its artifacts against its recorded
  manifest (trust on first use); afterwards an unsigned version is refused until an operator signs it
  explicitly (`brain components sign`).
- Versions signed before the version number was bound carry a legacy signature: 64 hex digits of
  ``HMAC-SHA256(key, "name\\nformat\\nsha256")``, no scheme marker. When the registry starts and finds
  legacy signatures but no valid ``v2`` one anywhere, it has never been upgraded: it upgrades every
  legacy-signed version once, after checking the legacy signature and the artifacts against the
  recorded manifest (trust on upgrade). From then on the ``v2`` signatures it wrote are the record that
  the upgrade happened (only the key can make one, and a backup carries them with the key), and a
  legacy signature is refused at load (`LegacySignature`, naming the command that upgrades it).
A signature that is present but wrong, of either scheme, is never re-signed automatically.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from model_hub.errors import LegacySignature, ManifestUnsigned, SignatureMismatch
from model_hub.settings import HubSettings
from model_hub.versions import Version

#: The version tag that holds the signature.
TAG = "brain.manifest_hmac"

#: The scheme marker of signatures that bind the version number; a value without it is legacy.
SCHEME = "v2"
_PREFIX = SCHEME + ":"


def is_current(signature: str) -> bool:
    """Whether a stored signature is of the current scheme (whether it is valid is `verify`'s)."""
    return signature.startswith(_PREFIX)


@dataclass(frozen=True)
class RegistryKey:
    """The platform's registry key; ``created`` when this process made the key file just now."""

    secret: bytes
    created: bool = False

    def sign(self, name: str, version: int, fmt: str, manifest_sha256: str) -> str:
        """The stored signature of version ``version`` of ``name``: ``v2:<hex>``."""
        fields = ["brain.manifest.v2", name, int(version), fmt, manifest_sha256]
        message = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        return _PREFIX + hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, version: Version) -> None:
        """Raise unless ``version`` carries this platform's signature of its name, number, format and
        manifest hash."""
        stored = version.manifest_hmac
        if not stored:
            raise ManifestUnsigned(version.name, version.version)
        if is_current(stored):
            expected = self.sign(version.name, version.version, version.format, version.manifest_sha256)
            if _same(expected, stored):
                return
        elif self.verifies_legacy(version):
            raise LegacySignature(version.name, version.version)
        raise SignatureMismatch(version.name, version.version)

    def verifies_legacy(self, version: Version) -> bool:
        """Whether ``version`` carries a valid legacy signature (no scheme marker, no version number):
        what the upgrade checks before it re-signs, never enough to load."""
        stored = version.manifest_hmac
        if not stored or is_current(stored):
            return False
        message = f"{version.name}\n{version.format}\n{version.manifest_sha256}".encode()
        expected = hmac.new(self.secret, message, hashlib.sha256).hexdigest()
        return _same(expected, stored)


def _same(expected: str, stored: str) -> bool:
    # As bytes: compare_digest refuses a non-ASCII str, and a tag is whatever MLflow was given.
    return hmac.compare_digest(expected.encode(), stored.encode())


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
