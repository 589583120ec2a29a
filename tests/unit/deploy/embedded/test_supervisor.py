"""The foreground `brain up`'s supervisor on real processes: a crashed service is restarted with backoff and
said so; one that keeps crashing is given up on; `brain down` from elsewhere ends it."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.embedded.platform import Ended, Platform, Service
from deploy.embedded.proctree import alive
from deploy.embedded.supervisor import RestartPolicy, Supervisor

FAST = RestartPolicy(first_delay_s=0.1, max_delay_s=0.4, max_restarts=3, window_s=60.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(
    supervisor: Supervisor, check: Callable[[Ended | None], bool], timeout: float = 30.0
) -> Ended | None:
    deadline = time.monotonic() + timeout
    while True:
        ended = supervisor.step()
        if check(ended):
            return ended
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _ended_or_restarted(said: list[str], restarts: int) -> Callable[[Ended | None], bool]:
    return lambda ended: ended is not None or sum("restarted" in line for line in said) == restarts


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(home=tmp_path / "home")
    yield platform
    platform.down()


def _http_service(platform: Platform, name: str) -> Service:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    return platform._launch(name, command, port, url, f"{url}/", timeout=20.0)


def test_the_policy_doubles_from_one_second_to_thirty() -> None:
    policy = RestartPolicy()
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_killed_service_is_restarted_and_the_other_keeps_running(platform: Platform) -> None:
    registry, scheduler = _http_service(platform, "mlflow"), _http_service(platform, "scheduler")
    said: list[str] = []
    supervisor = Supervisor(platform, [registry, scheduler], FAST, say=said.append)
    assert supervisor.step() is None

    os.kill(scheduler.pid, signal.SIGKILL)
    _until(supervisor, lambda _: any("restarted" in line for line in said))

    new = next(s for s in supervisor.services if s.name == "scheduler")
    assert new.pid != scheduler.pid and alive(new.pid)
    assert alive(registry.pid), "the other service was touched"
    assert {s.name: s.pid for s in platform.services()} == {"mlflow": registry.pid, "scheduler": new.pid}
    assert said[0].startswith(f"scheduler (pid {scheduler.pid}) exited by itself; restarting it in 0 s")
    assert "the other services keep running" in said[0]
    log = Path(new.log).read_text()
    assert "exited by itself; restarting it" in log and f"scheduler restarted (pid {new.pid}" in log


def test_a_service_that_keeps_crashing_is_given_up_on(platform: Platform) -> None:
    service = _http_service(platform, "scheduler")
    said: list[str] = []
    supervisor = Supervisor(platform, [service], FAST, say=said.append)
    ended = None
    for kill in range(1, FAST.max_restarts + 2):
        current = next(s for s in supervisor.services if s.name == "scheduler")
        os.kill(current.pid, signal.SIGKILL)
        ended = _until(supervisor, _ended_or_restarted(said, kill))
        if ended is not None:
            break
    assert ended is not None and not ended.deliberate
    assert [s.name for s in ended.services] == ["scheduler"]
    assert supervisor.gave_up is not None
    assert said[-1].startswith(f"scheduler crashed {FAST.max_restarts + 1} times within 60 s; giving up")
    assert sum("restarting it in" in line for line in said) == FAST.max_restarts


def test_brain_down_from_elsewhere_ends_it_without_a_restart(platform: Platform) -> None:
    service = _http_service(platform, "mlflow")
    said: list[str] = []
    supervisor = Supervisor(platform, [service], FAST, say=said.append)
    Platform(home=platform.home).down()  # as from a second terminal
    ended = _until(supervisor, lambda e: e is not None)
    assert ended is not None and ended.deliberate
    assert said == []
