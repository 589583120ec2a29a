"""What can go wrong starting or stopping the embedded platform."""

from __future__ import annotations


class PlatformError(Exception):
    """A platform process could not start or stop (a port taken, a service that never became healthy);
    the message says which and where its log is. The CLI prints it as one line and exits 2."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
