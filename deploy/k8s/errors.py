"""Errors of the Kubernetes rendering."""

from __future__ import annotations


class K8sSpecError(ValueError):
    """The deployment spec (a values file) is malformed, or the chart refused it; the message names the
    field and the fix."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
