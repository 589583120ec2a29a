"""What every `brain` command shares: the console, JSON output, and error reporting."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
"""The ``--json`` option every listing and showing command takes."""


def emit_json(data: Any) -> None:
    """Machine-readable output for scripts: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """Say what was wrong on stderr, in one line, and exit with ``code`` (2: the user's input)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise SystemExit(code)
