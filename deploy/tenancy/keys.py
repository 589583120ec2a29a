"""API key material: generation, the visible prefix, and the hash stored at rest.

A key reads ``ibk_<key id>_<secret>``. The key id (8 hex digits) is public: lists, logs and the audit
show ``ibk_<key id>``. Only the sha256 of the whole key is stored. A fast hash is right here, unlike
for passwords: the secret is 256 random bits, so there is nothing to guess, and a plain digest can be
looked up through a unique index in O(1) and cached.
"""

from __future__ import annotations

import hashlib
import secrets

from deploy.tenancy.model import KEY_SCHEME

KEY_ID_BYTES = 4
SECRET_BYTES = 32


def new_key() -> tuple[str, str]:
    """A fresh (key id, full key)."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    return key_id, f"{KEY_SCHEME}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str | None:
    """The key id of something that looks like a key, else None (no database visit for garbage)."""
    scheme, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(key_id) != 2 * KEY_ID_BYTES or not secret:
        return None
    return key_id
