"""The signature of a version (model_hub/signing.py), without MLflow: what it binds, how the schemes
are told apart, and that whatever a tag holds gives a registry error, never a crash."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

import pytest

from model_hub import LegacySignature, ManifestUnsigned, SignatureMismatch
from model_hub.signing import RegistryKey, is_current
from model_hub.versions import Version

KEY = RegistryKey(b"k" * 40)
SHA = "ab" * 32


def version(number: int = 3, signature: str | None = None, name: str = "reactor-quality") -> Version:
    found = Version(name, number, "onnx", "active", (), SHA, "file:///x", 0)
    return replace(
        found, manifest_hmac=KEY.sign(name, number, "onnx", SHA) if signature is None else signature
    )


def test_the_signature_binds_the_version_number_and_carries_its_scheme() -> None:
    signed = version()
    assert is_current(signed.manifest_hmac) and signed.manifest_hmac.startswith("v2:")
    KEY.verify(signed)
    # Version 1's signature (same name, format and hash) on version 3: refused.
    with pytest.raises(SignatureMismatch, match="reactor-quality version 3"):
        KEY.verify(replace(signed, manifest_hmac=version(1).manifest_hmac))
    with pytest.raises(SignatureMismatch):
        KEY.verify(replace(signed, manifest_hmac="v2:" + "0" * 64))
    with pytest.raises(SignatureMismatch):
        RegistryKey(b"o" * 40).verify(signed)


def test_the_encoding_is_unambiguous() -> None:
    # Under a separator-joined message these pairs would collide; as JSON arrays they do not.
    assert KEY.sign("a\n1", 2, "onnx", SHA) != KEY.sign("a", 1, "2\nonnx", SHA)
    assert KEY.sign("ab", 1, "c", SHA) != KEY.sign("a", 1, "bc", SHA)


def test_a_legacy_signature_is_told_apart_and_never_enough_to_load() -> None:
    legacy = hmac.new(KEY.secret, f"reactor-quality\nonnx\n{SHA}".encode(), hashlib.sha256).hexdigest()
    old = version(signature=legacy)
    assert not is_current(legacy) and KEY.verifies_legacy(old)
    with pytest.raises(LegacySignature, match="brain components sign reactor-quality --version 3"):
        KEY.verify(old)
    wrong = version(signature="0" * 64)
    assert not KEY.verifies_legacy(wrong)
    with pytest.raises(SignatureMismatch):
        KEY.verify(wrong)
    assert not KEY.verifies_legacy(version())  # a current signature is not a legacy one


@pytest.mark.parametrize("stored", ["v2:签名", "签名", "v2:", " "])
def test_whatever_the_tag_holds_is_a_refusal_not_a_crash(stored: str) -> None:
    with pytest.raises(SignatureMismatch):
        KEY.verify(version(signature=stored))
    with pytest.raises(ManifestUnsigned):
        KEY.verify(version(signature=""))
