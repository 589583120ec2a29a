"""The process tree of `brain up`/`down`: real processes found, recorded and stopped by pid."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from deploy.embedded.proctree import (
    Recorded,
    alive,
    descendants,
    read_recorded,
    record_descendants,
    still_running,
    terminate,
)


def _poll(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def tree() -> Iterator[subprocess.Popen[bytes]]:
    """A shell with two sleeping children: what the runner is to Ray's processes."""
    parent = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 301 & wait"])
    try:
        _poll(lambda: len(descendants(parent.pid)) == 2)
        yield parent
    finally:
        for child in psutil.Process(parent.pid).children(recursive=True) if alive(parent.pid) else []:
            child.kill()
        parent.kill()
        parent.wait(timeout=10)


def test_descendants_are_recorded_found_and_stopped(tree: subprocess.Popen[bytes], tmp_path: Path) -> None:
    record = tmp_path / "children.json"
    record_descendants(record, tree.pid)
    recorded = read_recorded(record)
    assert sorted(r.cmdline for r in recorded.values()) == ["sleep 300", "sleep 301"]
    assert all(r.create_time for r in recorded.values())

    pids = still_running(recorded)
    assert sorted(pids) == sorted(recorded)
    terminate(pids)
    assert still_running(recorded) == []
    # Its children gone, the shell's `wait` returns and the shell exits on its own.
    assert tree.wait(timeout=10) == 0


def test_a_pid_that_is_another_process_now_is_left_alone(tree: subprocess.Popen[bytes]) -> None:
    pid, identity = next(iter(descendants(tree.pid).items()))
    assert identity.create_time is not None
    # The same pid, started at another time or running another program: a reused pid.
    earlier = Recorded(identity.cmdline, identity.create_time - 3600)
    other = Recorded("sleep 999", identity.create_time)
    assert still_running({pid: earlier}) == []
    assert still_running({pid: other}) == []
    assert still_running({pid: identity}) == [pid]


def test_records_without_start_times_compare_the_command_line(
    tree: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # The format written before start times were kept: pid → command line.
    found = descendants(tree.pid)
    record = tmp_path / "children.json"
    record.write_text(json.dumps({str(pid): r.cmdline for pid, r in found.items()}))
    recorded = read_recorded(record)
    assert all(r.create_time is None for r in recorded.values())
    assert sorted(still_running(recorded)) == sorted(found)


def test_a_missing_or_broken_record_is_empty(tmp_path: Path) -> None:
    assert read_recorded(tmp_path / "absent.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert read_recorded(broken) == {}


def test_terminate_kills_what_ignores_sigterm() -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(300)"
    )
    # The with-block closes the pipe and waits for the process whatever the test's outcome.
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) as stubborn:
        try:
            assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
            terminate([stubborn.pid], grace=0.5)
            assert stubborn.wait(timeout=10) == -signal.SIGKILL
        finally:
            stubborn.kill()


def test_alive_reaps_an_exited_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        _poll(lambda: not alive(child.pid))
        assert alive(child.pid) is False
        assert descendants(child.pid) == {}
        # A pid of nobody: gone.
        assert still_running({child.pid: Recorded("python -c pass", time.time())}) == []
    finally:
        child.wait(timeout=10)  # already reaped by alive(); this tells the Popen object so
