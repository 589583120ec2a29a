"""Scenarios 2 and 6 of issue #12, and the supervisor of `brain up`, on a whole platform in the foreground.

`brain up --no-builtins` runs over a home prepared with four components (one of them on a dedicated
deployment), a tenant and its key. A prober calls a component every 50 ms (5 s timeout) and the scheduler's
health every 50 ms, throughout. Then:

* scenario 6: the MLflow server is killed (SIGKILL). Calls must keep succeeding (the centre reads the
  embedded registry's SQLite store, not the server); the supervisor must start MLflow again.
* scenario 2: the capability centre (the runner: Ray head, Serve controller, replicas) is killed (SIGKILL)
  while the scheduler runs. Calls in the gap must be answered fast (connection refused or 503, none over
  2 s, none 404), the scheduler must stay healthy, the supervisor must start the centre again, and then the same key
  gets the same answer, the usage metered before is still there and the dedicated deployment is back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.reliability.platform_faults import BODY, COMPONENTS, metered_calls, prepare
from bench.serving import free_port
from deploy.embedded.platform import Platform
from model_hub import HubSettings, Registry, ServingPolicy

BRAIN = Path(sys.executable).parent / "brain"
FAST_S = 2.0  # an answer in the gap slower than this is a hang


@dataclass
class Probe:
    """Calls ``url`` every 50 ms in a thread; keeps (time, outcome, seconds) of each."""

    url: str
    headers: dict[str, str]
    body: str | None = None
    seen: list[tuple[float, str, float]] = field(default_factory=list)
    said: dict[str, str] = field(default_factory=dict)
    """The first answer of each status other than 200 (its Retry-After and the start of its body): who
    answered, the proxy or the application."""
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self.stop.wait(0.05):
                began = time.time()
                try:
                    if self.body is None:
                        answer = client.get(self.url, headers=self.headers)
                    else:
                        answer = client.post(self.url, headers=self.headers, content=self.body)
                    outcome = str(answer.status_code)
                    if outcome != "200" and outcome not in self.said:
                        retry = answer.headers.get("Retry-After")
                        self.said[outcome] = (f"Retry-After {retry}: " if retry else "") + answer.text[:100]
                except httpx.ConnectError:
                    outcome = "refused"
                except httpx.TimeoutException:
                    outcome = "timeout"
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                self.seen.append((began, outcome, time.time() - began))

    def between(self, start: float, end: float) -> list[tuple[float, str, float]]:
        return [s for s in self.seen if start <= s[0] < end]


def _wait(check: Any, timeout: float, what: str) -> float:
    began = time.time()
    while not check():
        if time.time() - began > timeout:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        time.sleep(0.1)
    return time.time() - began


def _status(url: str, headers: dict[str, str]) -> int:
    """The status of one inference call; 0 when no answer came."""
    try:
        return httpx.post(url, headers=headers, content=BODY, timeout=10).status_code
    except httpx.HTTPError:
        return 0


def _pid(platform: Platform, name: str) -> int:
    return next(s.pid for s in platform.services() if s.name == name)


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="rel-restart-") as tmp:
        return _run(Path(tmp))


def _run(work: Path) -> list[dict[str, Any]]:
    home = work / "home"
    key = prepare(home)
    registry = Registry(HubSettings(home=home))
    dedicated = COMPONENTS[-1]
    registry.set_serving(dedicated, ServingPolicy(dedicated=True))
    registry.close()
    ports = {o: free_port() for o in ("--mlflow-port", "--port", "--dashboard-port", "--scheduler-api-port")}
    ports["--scheduler-metrics-port"] = free_port()
    env = {**os.environ, "BRAIN_HOME": str(home), "BRAIN_USAGE_FLUSH_SECONDS": "1", "COLUMNS": "200"}
    out = (work / "up.out").open("w")
    up = subprocess.Popen(
        [str(BRAIN), "up", "--no-builtins", *[str(a) for pair in ports.items() for a in pair]],
        env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log = work / "up.out"
    rows: list[dict[str, Any]] = []
    probes: list[Probe] = []
    try:
        _wait(lambda: "press Ctrl-C" in log.read_text() or up.poll() is not None, 400, "brain up not ready")
        assert up.poll() is None, log.read_text()
        platform = Platform(home=home)
        centre = f"http://127.0.0.1:{ports['--port']}"
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        call = Probe(f"{centre}/v2/models/{COMPONENTS[0]}/infer", auth, BODY)
        sched = Probe(f"http://127.0.0.1:{ports['--scheduler-api-port']}/healthz", {})
        probes = [call, sched]
        answer = httpx.post(call.url, headers=auth, content=BODY, timeout=30).json()["outputs"][0]["data"]
        own = f"{centre}/v2/models/{dedicated}/infer"
        _wait(lambda: _status(own, auth) == 200, 120, "the dedicated deployment did not answer")
        for probe in probes:
            probe.start()
        time.sleep(3)

        # --- scenario 6: the MLflow server dies -------------------------------------------------------------
        old = _pid(platform, "mlflow")
        killed = time.time()
        os.kill(old, signal.SIGKILL)
        back = _wait(lambda: "mlflow restarted" in log.read_text(), 120, "MLflow was not restarted")
        time.sleep(2)
        during = call.between(killed, killed + back + 2)
        failed = [s for s in during if s[1] != "200"]
        ui = httpx.get(f"http://127.0.0.1:{ports['--mlflow-port']}/health", timeout=5).status_code
        rows.append(
            {
                "scenario": "6. MLflow server killed",
                "what": "SIGKILL of the MLflow server under `brain up`, a component called every 50 ms",
                "figure": (
                    f"{len(during) - len(failed)} of {len(during)} calls answered 200 while MLflow was down; "
                    f"the supervisor restarted it in {back:.1f} s (UI /health {ui}); registration needs no "
                    f"MLflow server in the embedded platform (the registry is its SQLite store)"
                ),
                "passed": not failed and ui == 200 and up.poll() is None,
            }
        )

        # --- scenario 2: the capability centre dies ---------------------------------------------------------
        before = metered_calls(home)
        old = _pid(platform, "capability-centre")
        killed = time.time()
        os.kill(old, signal.SIGKILL)
        back = _wait(
            lambda: "capability-centre restarted" in log.read_text(), 400, "the centre was not restarted"
        )
        serving = _wait(
            lambda: bool(call.seen) and call.seen[-1][1] == "200", 120, "calls did not succeed again"
        )
        gap = call.between(killed, time.time())
        outcomes: dict[str, int] = {}
        for _, outcome, _ in gap:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        slowest = max((s[2] for s in gap if s[1] != "200"), default=0.0)
        health = [s[1] for s in sched.between(killed, time.time())]
        again = httpx.post(call.url, headers=auth, content=BODY, timeout=30).json()["outputs"][0]["data"]
        dedicated_ok = _wait(
            lambda: _status(own, auth) == 200, 120, "the dedicated deployment did not come back"
        )
        time.sleep(3)
        after = metered_calls(home)
        tenants = subprocess.run(
            [str(BRAIN), "tenants", "list", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        names = [t["name"] for t in json.loads(tenants.stdout)]
        bad_health = [h for h in health if h != "200"]
        hung = [s for s in gap if s[1] != "200" and s[2] > FAST_S]
        rows.append(
            {
                "scenario": "2. capability centre killed, scheduler running",
                "what": "SIGKILL of the centre (Ray head, Serve controller, replicas) under `brain up`",
                "figure": (
                    f"restarted by the supervisor in {back:.0f} s, serving again {back + serving:.0f} s after "
                    f"the kill; calls in the gap: {json.dumps(outcomes)} (answers: {json.dumps(call.said)}), "
                    f"slowest refusal {slowest:.2f} s "
                    f"(limit {FAST_S:.0f} s); scheduler /healthz {len(health) - len(bad_health)} of "
                    f"{len(health)} OK; same key, same answer: {again == answer}; usage {before} before, "
                    f"{after} after; tenants {names}; dedicated `{dedicated}` back "
                    f"{dedicated_ok:.0f} s after the restart"
                ),
                "passed": not hung
                and "404" not in outcomes  # a centre starting says 503 + Retry-After, not "no such path"
                and not bad_health
                and again == answer
                and after >= before
                and "bench" in names
                and up.poll() is None,
            }
        )
    except Exception as exc:  # the rows measured so far stand; the rest is one failed row saying where
        done = ", ".join(r["scenario"] for r in rows) or "nothing"
        rows.append(
            {"scenario": "2/6. platform restarts", "what": f"after: {done}", "figure": repr(exc)[:400],
             "passed": False}
        )  # fmt: skip
    finally:
        for probe in probes:
            probe.stop.set()
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(300)
            except subprocess.TimeoutExpired:
                Platform(home=home).down()
                up.kill()
                up.wait()
        out.close()
        print(log.read_text()[-3000:], flush=True)
    rows.append(
        {
            "scenario": "supervisor: brain up after the two kills",
            "what": "the foreground `brain up` that restarted MLflow and the centre, stopped with Ctrl-C",
            "figure": f"exit code {up.returncode}; "
            + "; ".join(line for line in log.read_text().splitlines() if "restart" in line)[:600],
            "passed": up.returncode == 0,
        }
    )
    return rows
