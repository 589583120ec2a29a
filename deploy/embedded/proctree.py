"""Finding and stopping the processes a platform process started, by process id (with psutil).

Ray Serve's HAProxy can outlive Ray (DESIGN.md): after Ray stops it may still hold the serving
port and answer 500 to everything. The runner therefore records its descendants while it runs,
and whoever stops it terminates the recorded ones that are still there and still the same
process: the start time and the command line are compared, so a reused pid is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

# A process in these states has exited; only its parent's wait() is missing.
_GONE = frozenset({psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})
# psutil derives a start time from the boot time, which Linux may report a second apart in two
# processes; the command line must match as well, so this tolerance cannot confuse two programs.
_START_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Recorded:
    """What a recorded pid was: its command line and when it started (seconds since the epoch)."""

    cmdline: str
    create_time: float | None = None
    """None in records written before start times were kept: the command line alone is compared."""


def _identity(process: psutil.Process) -> Recorded | None:
    try:
        with process.oneshot():
            if process.status() in _GONE:
                return None
            return Recorded(" ".join(process.cmdline()), process.create_time())
    except psutil.Error:
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not); an exited child of ours is reaped on the way."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    try:
        return psutil.Process(pid).status() not in _GONE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def descendants(root: int) -> dict[int, Recorded]:
    """Every live process below ``root``, with what identifies it."""
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return {}
    found: dict[int, Recorded] = {}
    for child in children:
        identity = _identity(child)
        if identity is not None:
            found[child.pid] = identity
    return found


def read_recorded(path: Path) -> dict[int, Recorded]:
    """The processes recorded in ``path``; empty when there is no record."""
    try:
        raw = json.loads(path.read_text())
        return {
            int(pid): Recorded(entry) if isinstance(entry, str) else Recorded(**entry)
            for pid, entry in raw.items()
        }
    except (OSError, ValueError, TypeError):
        return {}


def record_descendants(path: Path, root: int) -> None:
    """Add ``root``'s live descendants to the record in ``path`` (written atomically)."""
    known = read_recorded(path)
    known.update(descendants(root))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {str(pid): {"cmdline": r.cmdline, "create_time": r.create_time} for pid, r in known.items()}
        )
    )
    tmp.replace(path)


def _same(recorded: Recorded, now: Recorded) -> bool:
    if recorded.cmdline != now.cmdline:
        return False
    return recorded.create_time is None or (
        now.create_time is not None
        and math.isclose(recorded.create_time, now.create_time, abs_tol=_START_TOLERANCE_S)
    )


def still_running(recorded: Mapping[int, Recorded]) -> list[int]:
    """The recorded processes that are alive and still the process that was recorded."""
    running = []
    for pid, identity in recorded.items():
        if not identity.cmdline:
            continue  # nothing to compare with (a kernel thread, a process that was exiting)
        try:
            now = _identity(psutil.Process(pid))
        except psutil.Error:
            continue
        if now is not None and _same(identity, now):
            running.append(pid)
    return running


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() not in _GONE
    except psutil.Error:
        return False


def terminate(pids: Iterable[int], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL whatever is left after ``grace`` seconds.

    psutil refuses to signal a pid that another process has taken since it was looked up here."""
    processes = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            processes.append(psutil.Process(pid))
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    # Polled, not psutil.wait_procs: that waits out the grace on a zombie we are not the parent of.
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_running(p) for p in processes):
        time.sleep(0.1)
    for process in processes:
        if _running(process):
            with contextlib.suppress(psutil.Error):
                process.kill()


def session_members(sid: int) -> list[int]:
    """The live processes of the session that ``sid`` leads, the leader excepted.

    A service is started in a session of its own, so what is left in that session after its leader died
    is that service's leftovers (an MLflow worker, a job-runner): Linux does not hand out a pid still used
    as a session id, so no unrelated process can be in it."""
    members = []
    for process in psutil.process_iter():
        if process.pid == sid:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(process.pid) == sid and _running(process):
                members.append(process.pid)
    return members
