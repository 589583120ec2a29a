"""`brain backup DEST` and `brain restore SRC`: the embedded stores of BRAIN_HOME (deploy/embedded/backup.py).

They work on files, as `brain up`/`brain down` do: whoever may read (or write) the BRAIN_HOME folder may back
it up (or restore into it); no API key is involved. The backup folder is made readable by its owner only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploy.cli._common import console, fail
from deploy.embedded import backup as stores
from deploy.embedded.errors import PlatformError
from deploy.embedded.platform import Platform, alive


def backup(
    dest: Annotated[Path, typer.Argument(help="A new or empty folder for the backup.")],
) -> None:
    """Copy the embedded stores (SQLite online backups, then the MLflow artifacts) while the platform runs."""
    platform = Platform()
    try:
        manifest = stores.backup(platform.home, dest)
    except PlatformError as exc:
        fail(exc.message)
    console.print(
        f"backed up {platform.home} to {dest}: {', '.join(manifest.databases)}"
        + "".join(f", {folder}/" for folder in manifest.copied_folders()),
        highlight=False,
    )
    for line in manifest.not_copied:
        console.print(f"[yellow]not copied (back it up with its own tools, docs/operations.md):[/] {line}")


def restore(
    source: Annotated[Path, typer.Argument(help="A folder written by `brain backup`.")],
) -> None:
    """Restore a backup into BRAIN_HOME, which must be new (stop the platform first)."""
    platform = Platform()
    running = [s.name for s in platform.services() if alive(s.pid)]
    if running:
        fail(f"the platform runs in {platform.home} ({', '.join(running)}); `brain down` first")
    try:
        manifest = stores.restore(source, platform.home)
    except PlatformError as exc:
        fail(exc.message)
    console.print(
        f"restored {', '.join(manifest.databases)}"
        + "".join(f", {folder}/" for folder in manifest.copied_folders())
        + f" from {source} (backed up from {manifest.home} at {manifest.created}) into {platform.home}; "
        "`brain up` serves them",
        highlight=False,
    )
    if manifest.namespace is not None:
        console.print(
            f"the scheduler's submission ids now start brain-{manifest.namespace}-: no attempt from here on "
            "reuses one of the original database's on a shared Ray cluster",
            highlight=False,
        )
