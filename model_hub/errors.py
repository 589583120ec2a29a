"""The registry's error hierarchy.

Every error carries the HTTP status an API should answer with, and a message that says what was
wrong and what to do about it. The capability centre turns these into `{"error": ...}` bodies.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of all model_hub errors."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CardInvalid(HubError):
    status = 422


class ComponentNotFound(HubError):
    status = 404

    def __init__(self, name: str, version: str | int | None = None) -> None:
        what = f"component {name!r}" + (f" version {version}" if version is not None else "")
        super().__init__(f"{what} is not registered; `brain components list` shows what is")
        self.name = name
        self.version = version


class ComponentExists(HubError):
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(
            f"component {name!r} is already registered; register a new version with "
            f"`--new-version`, or pick another name"
        )


class NotOwner(HubError):
    status = 403

    def __init__(self, name: str, owner: str, caller: str) -> None:
        super().__init__(
            f"component {name!r} belongs to {owner!r}; {caller!r} cannot add versions to it. "
            f"Ask its owner, or register under another name"
        )


class BadReference(HubError):
    """A version reference that is neither a number nor a known alias, or a bad canary share."""

    status = 400


class SafetyError(HubError):
    """A model artifact was refused by a safety check."""

    status = 422


class PickleRefused(SafetyError):
    def __init__(self, fmt: str, visibility: str) -> None:
        super().__init__(
            f"{fmt} artifacts load through pickle and can run arbitrary code, so they may only be "
            f"registered as private (got visibility={visibility!r}); convert the model to ONNX "
            f"(torch or scikit-learn are converted automatically) or register it as private"
        )


class ArtifactTampered(SafetyError):
    status = 409

    def __init__(self, path: str, expected: str, actual: str) -> None:
        super().__init__(
            f"artifact {path!r} does not match the sha256 recorded at registration "
            f"(expected {expected[:12]}…, found {actual[:12]}…); it was changed after registration. "
            f"Refusing to load it: register a new version from a trusted copy"
        )


class SignatureMismatch(SafetyError):
    """The manifest hash of a version is not signed by this platform's registry key."""

    status = 409

    def __init__(self, name: str, version: int) -> None:
        super().__init__(
            f"{name} version {version}: its recorded manifest hash does not carry this platform's "
            f"signature (HMAC); its artifacts or their sha256 tag were changed in MLflow after "
            f"registration. Refusing to load it: register a new version from a trusted copy"
        )


class ManifestUnsigned(SafetyError):
    """A version registered before manifests were signed, and not signed since."""

    status = 409

    def __init__(self, name: str, version: int) -> None:
        super().__init__(
            f"{name} version {version} has no signed manifest (registered before signing, or its "
            f"signature was removed); refusing to load it. An operator who trusts it can sign it "
            f"with `brain components sign {name} --version {version}`"
        )


class LegacySignature(SafetyError):
    """A version signed before the version number was bound, found after the registry's upgrade."""

    status = 409

    def __init__(self, name: str, version: int) -> None:
        super().__init__(
            f"{name} version {version} carries a legacy signature, which does not bind the version "
            f"number (another version's tags copied onto it would pass it); refusing to load it. The "
            f"registry upgraded legacy signatures once, when it first started with signed version "
            f"numbers: this one was written later, by an older platform process or by someone with "
            f"write access to MLflow. An operator who trusts it can upgrade it with "
            f"`brain components sign {name} --version {version}`"
        )


class ModelTooLarge(SafetyError):
    status = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"model is {size / 1e6:.1f} MB, over the limit of {limit / 1e6:.1f} MB; shrink it "
            f"(quantise, prune) or raise BRAIN_MAX_MODEL_BYTES"
        )


class OnnxRejected(SafetyError):
    """The ONNX model failed validation (checker, operator domain or external data)."""


class FormulaRejected(SafetyError):
    """A formula component names code outside the allowed packages or cannot be imported."""


class TorchRejected(SafetyError):
    """A torch component names code outside the allowed packages, or its weights do not fit it."""


class ConversionFailed(HubError):
    """Converting to ONNX failed or the converted model disagrees with the original."""

    status = 422


class PipelineInvalid(HubError):
    """A pipeline spec that cannot be registered: its graph, its references or its visibility."""

    status = 422
