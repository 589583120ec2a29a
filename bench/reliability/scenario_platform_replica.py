"""Scenario 1 of issue #12: a Serve replica of the capability centre killed (SIGKILL) under steady load.

The centre is started as `brain up` starts it (the runner), with 1 and then 2 replicas, over four MLP
components; wrk holds c=16 OIP calls rotating over them for LOAD_S seconds and one replica process is killed
at KILL_AT_S. The issue asks for 60 s with the kill at 20 s; on a 2-core host the runner's bounded version is
30 s with the kill at 10 s (`RELIABILITY_LOAD_S` / `RELIABILITY_KILL_AT_S` set others). Figures: failed calls
(non-200 answers and socket errors) of all, the time from the kill until throughput stays at 90% of its
mean before the kill, and the calls the usage table lacks after the flush window (the killed replica's
unflushed counts: at most what all replicas answered in one BRAIN_USAGE_FLUSH_SECONDS window, taken at
the fastest second before the kill).
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.reliability.platform_faults import (
    finish_wrk,
    metered_calls,
    prepare,
    recovery_s,
    replicas,
    rotating_script,
    series,
    start_wrk,
)
from bench.serving import centre

LOAD_S = int(os.environ.get("RELIABILITY_LOAD_S", "30"))
KILL_AT_S = float(os.environ.get("RELIABILITY_KILL_AT_S", "10"))
FLUSH_S = 1.0
MAX_FAILED = 0.001
MAX_RECOVERY_S = 10.0


def once(work: Path, count: int) -> dict[str, Any]:
    home = work / f"home-{count}"
    key = prepare(home)
    script = rotating_script(work / f"load-{count}.lua", key)
    os.environ["BRAIN_USAGE_FLUSH_SECONDS"] = str(FLUSH_S)  # the runner and its replicas inherit it
    with centre(work, home, count, f"replicas-{count}") as (port, _):
        url = f"http://127.0.0.1:{port}"
        finish_wrk(start_wrk(url, script, 4, 3), 3)  # every replica has loaded the components
        baseline = metered_calls_after_flush(home)
        victims = replicas(home)
        assert len(victims) == count, f"expected {count} replica processes, found {victims}"
        started = time.time()
        load = start_wrk(url, script, 16, LOAD_S)
        time.sleep(max(0.0, started + KILL_AT_S - time.time()))
        killed_at = time.time()
        os.kill(victims[0], signal.SIGKILL)
        result = finish_wrk(load, LOAD_S)
        metered = metered_calls_after_flush(home) - baseline
    total = result.succeeded + result.failed
    failed_share = result.failed / total if total else 1.0
    recovery = recovery_s(result, killed_at, (started + 1, killed_at - 1))
    # Calls the replicas answered (200 or an error status) are metered; what is missing was counted by the
    # killed replica after its last flush.
    answered = result.succeeded + sum(result.bad.values())
    lost = max(0, answered - metered)
    rate = result.succeeded / LOAD_S
    # The flush window: what the replicas answered in the FLUSH_S before the kill, at the fastest second
    # before it (all replicas' calls: the killed one's share is less).
    peak = max((n for s, n in result.ok.items() if started + 1 <= s < killed_at - 1), default=0)
    lost_bound = peak * FLUSH_S
    return {
        "replicas": count,
        "calls": total,
        "failed": result.failed,
        "failed_share": round(failed_share, 5),
        "recovery_s": None if recovery is None else round(recovery, 1),
        "rps": round(rate, 1),
        "metered": metered,
        "answered": answered,
        "usage_lost": lost,
        "usage_lost_bound": round(lost_bound),
        "kill_at_s": round(killed_at - started, 1),
        "per_second": series(result, started),
        "passed": failed_share <= MAX_FAILED
        and recovery is not None
        and recovery <= MAX_RECOVERY_S
        and lost <= lost_bound,
    }


def metered_calls_after_flush(home: Path) -> int:
    time.sleep(FLUSH_S * 3)  # every replica's flusher has run since the last call
    return metered_calls(home)


def run() -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="rel-replica-") as tmp:
        for count in (1, 2):
            r = once(Path(tmp), count)
            print(r, flush=True)
            rows.append(
                {
                    "scenario": f"1. replica killed under load ({count} replica{'s' if count > 1 else ''})",
                    "what": f"c=16 OIP over 4 components for {LOAD_S} s, SIGKILL of one replica at {KILL_AT_S:.0f} s",
                    "figure": (
                        f"{r['failed']} of {r['calls']} calls failed ({100 * r['failed_share']:.3f}%, limit 0.1%); "
                        f"full throughput {r['recovery_s']} s after the kill (limit {MAX_RECOVERY_S:.0f} s); "
                        f"{r['rps']} calls/s; usage: {r['metered']} metered of {r['answered']} answered, "
                        f"{r['usage_lost']} lost (bound: one {FLUSH_S:.0f} s flush window at the peak rate, {r['usage_lost_bound']})"
                    ),
                    "passed": r["passed"],
                    "details": r,
                }
            )
    return rows
