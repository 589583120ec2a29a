"""How a caller presents its platform API key: ``Authorization: Bearer KEY``, or ``X-API-Key: KEY``.

One rule for every HTTP face of the platform (the scheduler's REST API, and the capability centre,
which may import the scheduler but not the reverse), so a key that works on one works on the other.
"""

from __future__ import annotations


def api_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from the two headers' values: a Bearer credential first, else X-API-Key, else None."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return x_api_key
