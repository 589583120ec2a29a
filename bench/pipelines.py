"""What a pipeline costs against calling its components one by one: the built-in pipeline
`energy_carbon_forecast` (energy_forecast → electricity_ledger → carbon_accounting) in one call, and
the same three components called one after the other by a client that wires the tensors itself.

A real `Centre` (MLflow registry on SQLite, platform state on SQLite, no Ray, no HTTP) runs the
whole call (key check, admission, route, decode, predict, encode, metering: `calls.infer_body`) of
each. Both sides are in-process, so the client's side is flattered: over HTTP each of its three calls
adds a round trip (0.4-0.6 ms at c=1 on this machine, README), which the pipeline does not make.
Rounds are interleaved so that a noisy neighbour hits both alike; time is the calling thread's CPU
time (wall time on a shared machine mostly measures the neighbours), the median of each round.

Writes bench/results/pipelines.json.
    python bench/pipelines.py [--calls 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.catalog import ADAPTERS, builtin  # noqa: E402
from components.pipelines import PIPELINES  # noqa: E402
from components.publish import publish, publish_pipelines  # noqa: E402
from deploy.centre import oip  # noqa: E402
from deploy.centre.calls import infer_body  # noqa: E402
from deploy.centre.inference import Centre  # noqa: E402
from deploy.settings import PlatformSettings  # noqa: E402
from deploy.tenancy import TenantStore  # noqa: E402
from deploy.tenancy.bootstrap import ensure_operator  # noqa: E402
from model_hub import HubSettings, Registry  # noqa: E402

PIPELINE = "energy_carbon_forecast"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="brain-bench-pipelines-"))
    hub = HubSettings(home=home)
    settings = PlatformSettings(
        home=home, default_rate_per_second=1e9, default_burst=10**9, drift_sample_rate=0
    )
    registry = Registry(hub)
    publish(registry, [builtin("energy_forecast"), builtin("carbon_accounting"), *ADAPTERS])
    publish_pipelines(registry)
    registry.close()
    store = TenantStore.open(settings)
    issued = ensure_operator(store)
    assert issued is not None
    key = issued.secret
    store.engine.dispose()
    centre = Centre.open(hub, settings)
    try:
        example = next(p for p in PIPELINES if p.name == PIPELINE).example()

        def call(name: str, inputs: dict[str, np.ndarray], timings: bool = False) -> dict[str, Any]:
            doc = json.loads(oip.encode_request(inputs).body)
            if timings:
                doc["parameters"] = {"timings": True}
            answer: dict[str, Any] = json.loads(
                infer_body(centre, key, name, None, json.dumps(doc).encode(), None).body
            )
            return answer

        def by_hand() -> dict[str, Any]:
            forecast = call("energy_forecast", {k: example[k] for k in ("load_history", "day_kind")})
            kwh = next(o for o in forecast["outputs"] if o["name"] == "daily_energy_kwh")["data"]
            ledger = call("electricity_ledger", {"daily_energy_kwh": np.asarray(kwh, np.float32)})
            tensors = {o["name"]: np.asarray(o["data"]).reshape(o["shape"]) for o in ledger["outputs"]}
            return call("carbon_accounting", {**tensors, "electricity_factor": example["electricity_factor"]})

        ways: dict[str, Callable[[], dict[str, Any]]] = {
            "pipeline": lambda: call(PIPELINE, example),
            "pipeline_with_timings": lambda: call(PIPELINE, example, timings=True),
            "three_calls_by_the_client": by_hand,
        }
        piped = {o["name"]: o["data"] for o in ways["pipeline"]()["outputs"]}
        chained = {o["name"]: o["data"] for o in by_hand()["outputs"]}
        assert np.allclose(piped["electricity_tco2e"], chained["total_tco2e"]), (piped, chained)
        for way in ways.values():  # warm: models resident, caches filled
            for _ in range(50):
                way()
        medians: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                times = []
                for _ in range(args.calls):
                    started = time.thread_time()
                    way()
                    times.append((time.thread_time() - started) * 1000)
                medians[name].append(statistics.median(times))
        steps = call(PIPELINE, example, timings=True)["parameters"]["timings_ms"]
    finally:
        centre.close()
        centre.tenants.engine.dispose()
    best = {name: min(values) for name, values in medians.items()}
    result = {
        "what": "CPU ms per call, in-process Centre (no HTTP), median per round, best round",
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "cpu_ms": {k: round(v, 3) for k, v in best.items()},
        "rounds_cpu_ms": {k: [round(v, 3) for v in values] for k, values in medians.items()},
        "pipeline_vs_three_calls": round(best["pipeline"] / best["three_calls_by_the_client"], 3),
        "timings_cost": round(best["pipeline_with_timings"] / best["pipeline"], 3),
        "step_timings_ms_one_call": steps,
    }
    out = ROOT / "bench" / "results" / "pipelines.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
