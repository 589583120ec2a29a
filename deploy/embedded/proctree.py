"""Finding and stopping the processes a platform process started, by process id.

Ray Serve's HAProxy can outlive Ray (DESIGN.md): after Ray stops it may still hold the serving
port and answer 500 to everything. The runner therefore records its descendants while it runs,
and whoever stops it terminates the recorded ones that are still there and still the same
program (the command line is compared, so a reused pid is never signalled).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1])


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def descendants(root: int) -> dict[int, str]:
    """Every live process below ``root``, with its command line."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found: dict[int, str] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found[pid] = cmdline(pid)
        stack += children.get(pid, [])
    return found


def read_recorded(path: Path) -> dict[int, str]:
    """The processes recorded in ``path`` (pid → command line); empty when there is no record."""
    try:
        return {int(pid): cmd for pid, cmd in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        return {}


def record_descendants(path: Path, root: int) -> None:
    """Add ``root``'s live descendants to the record in ``path`` (written atomically)."""
    known = read_recorded(path)
    known.update(descendants(root))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({str(pid): cmd for pid, cmd in known.items()}))
    tmp.replace(path)


def still_running(recorded: dict[int, str]) -> list[int]:
    """The recorded processes that are alive and still run the same command."""
    return [pid for pid, cmd in recorded.items() if cmd and not _zombie(pid) and cmdline(pid) == cmd]


def terminate(pids: Iterable[int], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL whatever is left after ``grace`` seconds."""
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(not _zombie(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if not _zombie(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
