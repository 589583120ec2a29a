"""The whole embedded platform's memory at rest: `brain up` (built-ins included, as `make up`) in a fresh
home, left idle, then the unique memory (USS: pages no other process shares) and the resident set (RSS) of
every process it started — MLflow, the capability centre's Ray head, Serve controller, proxy, HAProxy and
replicas, the scheduler, the portal — summed and by process. Issue #12 aims at under 2.5 GiB.

USS is the figure that adds up: RSS counts the pages processes share (Python's and Ray's libraries, forked
workers) once per process, so the RSS sum overstates what the platform takes. Writes
bench/results/idle_memory.json.

    flock /tmp/brain-ray.lock python bench/reliability/idle_memory.py [--idle-s 30]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.serving import free_port  # noqa: E402
from deploy.embedded.network import platform_pids  # noqa: E402
from deploy.embedded.platform import Platform  # noqa: E402
from deploy.embedded.proctree import alive  # noqa: E402

BRAIN = Path(sys.executable).parent / "brain"
PORTS = ("--mlflow-port", "--port", "--grpc-port", "--dashboard-port", "--scheduler-metrics-port",
         "--scheduler-api-port", "--portal-port")  # fmt: skip
TARGET_GIB = 2.5


def _label(process: psutil.Process) -> str:
    """A short name for a process: Ray's titles (``ray::ServeReplica:…``) or the program and its module."""
    line = process.cmdline()
    if not line:
        return process.name()
    if line[0].startswith("ray::"):
        return line[0].split(" ")[0]
    if "-m" in line[:-1]:
        return f"{Path(line[0]).name} -m {line[line.index('-m') + 1]}"
    return " ".join([Path(line[0]).name, *[w for w in line[1:4] if not w.startswith("-")][:1]])[:60]


@dataclass
class Memory:
    pid: int
    process: str
    uss_mib: float
    rss_mib: float


def measure(home: Path) -> dict[str, object]:
    platform = Platform(home=home)
    services = [s for s in platform.services() if alive(s.pid)]
    recorded = [Path(s.children_file) for s in services if s.children_file]
    rows: list[Memory] = []
    for pid in sorted(platform_pids([s.pid for s in services], recorded)):
        with contextlib.suppress(psutil.Error):  # gone meanwhile, or not ours
            process = psutil.Process(pid)
            info = process.memory_full_info()
            rows.append(Memory(pid, _label(process), round(info.uss / 2**20, 1), round(info.rss / 2**20, 1)))
    rows.sort(key=lambda r: -r.uss_mib)
    uss = sum(r.uss_mib for r in rows) / 1024
    return {
        "processes": len(rows),
        "uss_gib": round(uss, 2),
        "rss_sum_gib": round(sum(r.rss_mib for r in rows) / 1024, 2),
        "target_gib": TARGET_GIB,
        "under_target": uss < TARGET_GIB,
        "by_process": [asdict(r) for r in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle-s", type=float, default=30.0, help="seconds left idle after start-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idle-mem-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "BRAIN_HOME": str(home), "COLUMNS": "200"}
        ports = [str(a) for option in PORTS for a in (option, free_port())]
        began = time.monotonic()
        started = subprocess.run(
            [str(BRAIN), "up", "--detach", *ports], env=env, capture_output=True, text=True, timeout=900
        )
        try:
            if started.returncode != 0:
                logs = "".join(
                    f"--- {log.name}\n{log.read_text()[-3000:]}" for log in (home / "logs").glob("*.log")
                )
                sys.exit(
                    f"brain up failed ({started.returncode}):\n{started.stdout[-3000:]}{started.stderr}{logs}"
                )
            up_s = time.monotonic() - began
            time.sleep(args.idle_s)
            result = {"up_s": round(up_s, 1), "idle_s": args.idle_s, **measure(home)}
        finally:
            subprocess.run([str(BRAIN), "down"], env=env, capture_output=True, text=True, timeout=300)
    print(json.dumps(result, indent=1))
    out = ROOT / "bench" / "results" / "idle_memory.json"
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
