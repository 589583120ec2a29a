"""What a foreground `brain up` makes of its services' ending: `brain down`, or a crash (real processes)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.embedded.platform import Platform, Service
from deploy.embedded.proctree import alive


def _poll(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return Platform(home=tmp_path / "home")


@pytest.fixture
def started(platform: Platform) -> Iterator[list[Service]]:
    """Two recorded services, each a sleeping process in its own session (as `_launch` starts them)."""
    procs = [subprocess.Popen(["sleep", "300"], start_new_session=True) for _ in range(2)]
    services = [
        Service(name, p.pid, 0, "", p.args, f"/logs/{name}.log")  # type: ignore[arg-type]
        for name, p in zip(("mlflow", "scheduler"), procs, strict=True)
    ]
    platform._save(services)
    try:
        yield services
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_running_services_have_not_ended(platform: Platform, started: list[Service]) -> None:
    assert platform.ended(started) is None


def test_a_service_that_exits_by_itself_is_a_crash(platform: Platform, started: list[Service]) -> None:
    subprocess.run(["kill", "-9", str(started[1].pid)], check=True)
    _poll(lambda: not alive(started[1].pid))
    ended = platform.ended(started)
    assert ended is not None and not ended.deliberate
    assert [s.name for s in ended.services] == ["scheduler"]
    assert ended.message == "scheduler exited by itself (see /logs/scheduler.log)"


def test_brain_down_in_progress_is_not_a_crash(platform: Platform, started: list[Service]) -> None:
    # What a foreground `brain up` sees while another process's `brain down` has stopped the first service
    # and not yet the rest: the marker is there, the stopped service is still recorded.
    stopper = subprocess.Popen(["sleep", "30"])
    try:
        platform.stop_file.write_text(json.dumps({"pid": stopper.pid}))
        subprocess.run(["kill", "-9", str(started[1].pid)], check=True)
        _poll(lambda: not alive(started[1].pid))
        assert platform.ended(started) is None
    finally:
        stopper.kill()
        stopper.wait()
    # The stopper died before it finished: what is still recorded and gone exited for some other reason.
    ended = platform.ended(started)
    assert ended is not None and not ended.deliberate


def test_a_marker_left_by_a_dead_brain_down_is_ignored(platform: Platform, started: list[Service]) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    platform.stop_file.write_text(json.dumps({"pid": dead.pid}))
    subprocess.run(["kill", "-9", str(started[0].pid)], check=True)
    _poll(lambda: not alive(started[0].pid))
    ended = platform.ended(started)
    assert ended is not None and not ended.deliberate


def test_after_brain_down_everything_ended_deliberately(platform: Platform, started: list[Service]) -> None:
    assert platform.down() == ["scheduler", "mlflow"]
    assert not platform.stop_file.exists()
    ended = platform.ended(started)
    assert ended is not None and ended.deliberate
    assert ended.message == "the platform was stopped (brain down): mlflow, scheduler are gone"
