"""What drift monitoring costs on the hot path: the centre's whole call in-process, with and without it.

A real `Centre` (MLflow registry on SQLite, platform state on SQLite, no Ray, no HTTP) serves the
benchmark MLP of bench/serving.py (32 inputs → 1 output, one row per call, OIP JSON) registered with
training statistics. Each round runs the same warm call (key check, admission, route, decode,
predict, encode, metering: `calls.infer_body`) N times on the same centre and model: without a drift
monitor, and with one sampling one call in 20 (the default, BRAIN_DRIFT_SAMPLE_RATE=0.05), in 10 and
every call, interleaved so that a noisy neighbour hits all alike. Time is the calling thread's CPU
time (wall time on a shared machine mostly measures the neighbours). Two figures: the monitor's own
time, counted around each of its calls inside the loop of real calls, against the median call without
it (the headline: no A/B noise), and the difference of the fastest rounds (A/B; on a shared 2-core
machine rounds differ by several percent). Binning (the background check's work) is timed apart.

Writes bench/results/drift_overhead.json.
    python bench/drift_overhead.py [--calls 2000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import ROW, mlp_card, mlp_module, oip_body  # noqa: E402
from deploy.centre.calls import infer_body  # noqa: E402
from deploy.centre.drift import DriftMonitor  # noqa: E402
from deploy.centre.inference import Centre  # noqa: E402
from deploy.settings import PlatformSettings  # noqa: E402
from deploy.tenancy import Role, TenantSpec, TenantStore  # noqa: E402
from model_hub import HubSettings, Registry  # noqa: E402
from model_hub.convert import torch_to_onnx  # noqa: E402
from model_hub.reference_stats import record_training_reference  # noqa: E402

EVERY = (0, 20, 10, 1)
"""Calls per sampled call; 0: no monitor."""


def prepare(home: Path) -> str:
    registry = Registry(HubSettings(home=home))
    model = torch_to_onnx(mlp_module(), mlp_card(), {"x": np.ones((4, 32), np.float32)})
    registry.register_onnx(mlp_card(), model)
    training = np.random.default_rng(0).standard_normal((4000, 32)).astype(np.float32)
    record_training_reference(registry, "mlp", 1, {"x": training})
    registry.close()
    store = TenantStore.open(PlatformSettings(home=home))
    store.create_tenant(
        TenantSpec(
            name="bench",
            display="bench",
            kind="enterprise",
            industries=["high-end-chemicals"],
            city="jinan",
            rate_per_second=1e9,
            burst=10**9,
            monthly_quota=2_000_000_000,
        ),
        actor="bench",
    )
    return store.issue_key("bench", Role.consumer, "bench").secret


def open_centre(home: Path) -> Centre:
    settings = PlatformSettings(home=home, drift_sample_rate=1.0, preload=False, usage_flush_seconds=60)
    return Centre.open(HubSettings(home=home), settings)


class TimedMonitor:
    """The monitor with the time of each of its calls counted, in the loop of real calls: its cost as
    it is paid there (caches cold from the call's own work), without an A/B difference's noise."""

    def __init__(self, monitor: DriftMonitor) -> None:
        self.monitor = monitor
        self.ns = 0
        self.calls = 0

    def observe(self, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
        start = time.perf_counter_ns()
        self.monitor.observe(inputs, outputs)
        self.ns += time.perf_counter_ns() - start
        self.calls += 1


def per_call_us(centre: Centre, key: str, body: bytes, calls: int) -> float:
    """CPU time of this thread per call: on a shared machine, wall time mostly measures the neighbours."""
    start = time.thread_time()
    for _ in range(calls):
        infer_body(centre, key, "mlp", None, body, None)
    return (time.thread_time() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "drift_overhead.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        home = Path(tmp)
        key = prepare(home)
        body = oip_body().encode()
        centre = open_centre(home)
        try:
            infer_body(centre, key, "mlp", None, body, None)  # load, verify the key, build the monitor
            runtime = centre.models.get("mlp", 1)
            monitor = runtime.drift
            assert monitor is not None
            per_call_us(centre, key, body, 500)
            # As Serve's throughput-optimised mode does in a replica (deploy.embedded.runner.SERVE_ENV):
            # the start-up heap out of the collector, whose full passes would otherwise be timed.
            gc.collect()
            gc.freeze()
            rounds: dict[int, list[float]] = {every: [] for every in EVERY}
            timed = {every: TimedMonitor(monitor) for every in EVERY if every}
            for _ in range(args.rounds):
                for every in EVERY:
                    runtime.drift = timed[every] if every else None  # type: ignore[assignment]
                    monitor.every = every or 1
                    rounds[every].append(per_call_us(centre, key, body, args.calls))
                    monitor.flush()  # the background check's work, outside the timed loop
            # Binning alone: 10,000 pending rows of one call each, as the background check bins them.
            monitor.every = 1
            x, y = {"x": np.asarray([ROW], np.float32)}, {"y": np.zeros((1, 1), np.float32)}
            for _ in range(10_000):
                monitor.observe(x, y)
            start = time.thread_time()
            monitor.flush()
            flush_us_per_row = (time.thread_time() - start) / 10_000 * 1e6
            rows = monitor.rows
        finally:
            centre.close()
    median = {every: statistics.median(values) for every, values in rounds.items()}
    fastest = {every: min(values) for every, values in rounds.items()}
    base = fastest[0]

    def label(every: int) -> str:
        return f"rate_{1 / every:g}" if every else "no_monitor"

    result = {
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "per_call_us_fastest_round": {label(e): round(v, 2) for e, v in fastest.items()},
        "per_call_us_median_round": {label(e): round(v, 2) for e, v in median.items()},
        "observe_us_per_call_in_the_loop": {
            label(e): round(t.ns / t.calls / 1000, 3) for e, t in timed.items()
        },
        "observe_percent_of_a_call": {
            label(e): round(t.ns / t.calls / 1000 / median[0] * 100, 2) for e, t in timed.items()
        },
        "overhead_percent_ab": {label(e): round((fastest[e] - base) / base * 100, 2) for e in EVERY if e},
        "binning_us_per_row_in_background": round(flush_us_per_row, 3),
        "rows_counted": rows,
    }
    print(json.dumps(result, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
