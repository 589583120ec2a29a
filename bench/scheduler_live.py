"""The live scheduler on a real local Ray cluster: submit-to-running latency against a raw Ray Jobs API
submission in the same run, and N queued short jobs draining through one cluster without a Jobs API error.

Not a timed test. Run it under the Ray lock of the shared machine:

    flock /tmp/brain-ray.lock .venv/bin/python bench/scheduler_live.py [--jobs 1000] [--latency-rounds 10]

It starts its own Ray head (own ports, temp folder and auth token; stopped by process group at the end) and
writes `bench/results/scheduler_live.json`.

- latency: the same entrypoint submitted alternately (a) raw, with `JobSubmissionClient.submit_job` (the
  call `ray job submit` makes, without the CLI's interpreter start-up) and (b) through the scheduler
  (database insert → scheduling cycle → the same Jobs API call); both timed until Ray reports RUNNING.
  Target: (b) ≤ 1.2 × (a).
- drain: N jobs queued at once drain through the cluster under admission control (at most
  `max_jobs_per_pool` in flight, Ray's Jobs API grows unstable past ~30, ray #37894). Target: zero Jobs API
  errors and every job succeeded.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client.samples import Sample
from ray.dashboard.modules.job.sdk import JobSubmissionClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.control import SchedulerControl
from scheduler.loop import Scheduler
from scheduler.model import JobState
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, QueueSpec, TopologySpec
from scheduler.store import SchedulerStore, submission_id
from tests.ray_clusters import poll, port_block, start_cluster

RESULTS = Path(__file__).parent / "results" / "scheduler_live.json"


def entrypoint(seconds: float) -> str:
    code = f"import time; time.sleep({seconds})"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def running_after(raw: JobSubmissionClient, sid: str, started: float) -> float:
    """Seconds from `started` until Ray reports the job RUNNING (or already finished)."""

    def seen() -> bool:
        try:
            return str(raw.get_job_status(sid).value) in ("RUNNING", "SUCCEEDED")
        except RuntimeError:
            return False  # not yet known to Ray

    poll(seen, timeout_s=120, every_s=0.01, what=f"{sid} running")
    return time.perf_counter() - started


def raw_drain(raw: JobSubmissionClient, jobs: int, in_flight: int, command: str) -> tuple[float, int]:
    """The peer: the same jobs through the Jobs API directly, the client keeping `in_flight` at most.
    Returns (seconds, Jobs API errors)."""
    started = time.perf_counter()
    waiting, active, finished, errors = jobs, set[str](), 0, 0
    tag = int(time.time())
    while finished < jobs:
        while waiting and len(active) < in_flight:
            sid = f"rawdrain-{tag}-{waiting}"
            try:
                raw.submit_job(entrypoint=command, submission_id=sid, entrypoint_num_cpus=0.1)
                active.add(sid)
                waiting -= 1
            except Exception:
                errors += 1
        for sid in list(active):
            try:
                status = str(raw.get_job_status(sid).value)
            except Exception:
                errors += 1
                continue
            if status in ("SUCCEEDED", "FAILED", "STOPPED"):
                active.discard(sid)
                finished += 1
        time.sleep(0.05)
    return time.perf_counter() - started, errors


def _samples(scheduler: Scheduler) -> list[Sample]:
    return [s for metric in scheduler.metrics.backend_errors.collect() for s in metric.samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the drain run (default 1000)")
    parser.add_argument("--latency-rounds", type=int, default=10, help="submissions of each kind")
    parser.add_argument("--interval", type=float, default=0.05, help="scheduler cycle interval, seconds")
    parser.add_argument("--max-jobs", type=int, default=24, help="jobs in flight per cluster")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--no-raw-drain", action="store_true", help="skip the raw Jobs API drain peer")
    parser.add_argument("--cpus", type=int, default=4, help="logical CPUs of the benchmark cluster")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="brb-", dir="/tmp"))
    cluster = start_cluster("bench", port_block(set()), root, cpus=args.cpus)
    report: dict[str, object] = {
        "machine": platform.node(),
        "python": platform.python_version(),
        "ray_cpus": args.cpus,
        "cycle_interval_s": args.interval,
        "max_jobs_per_pool": args.max_jobs,
    }
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        settings = SchedulerSettings(
            home=root / "home",
            cycle_interval_s=args.interval,
            max_jobs_per_pool=args.max_jobs,
            placement_scorer="best-fit",
        )
        client = SchedulerControl(SchedulerStore.open(settings), settings)
        client.apply(
            TopologySpec(
                pools=[
                    ClusterPoolSpec(
                        name="local",
                        city="jinan",
                        address=cluster.address,
                        auth_token_file=str(cluster.token_file),
                    )
                ],
                queues=[
                    QueueSpec(name="shandong"),
                    QueueSpec(name="bench", parent="shandong", tenant="bench"),
                ],
            )
        )
        scheduler = Scheduler(client.store, settings)
        thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
        thread.start()
        poll(lambda: client.store.pool("local").health == "healthy", 60, what="the pool healthy")
        raw = JobSubmissionClient(cluster.address, headers={"Authorization": f"Bearer {cluster.token}"})

        # --- latency, alternating so drift hits both alike ---
        ours: list[float] = []
        peers: list[float] = []
        job = {"tenant": "bench", "entrypoint": entrypoint(0.2), "bundles": [{"cpu": 0.5, "memory_mib": 0}]}
        for i in range(args.latency_rounds):
            started = time.perf_counter()
            sid = f"raw-{i}-{int(time.time() * 1000)}"
            raw.submit_job(entrypoint=entrypoint(0.2), submission_id=sid, entrypoint_num_cpus=0.5)
            peers.append(running_after(raw, sid, started))
            started = time.perf_counter()
            row = client.submit(job)
            ours.append(running_after(raw, submission_id(row.id, 1), started))
            client.wait(row.id, timeout_s=120, poll_s=0.05)
        raw_p50, ours_p50 = statistics.median(peers), statistics.median(ours)
        report["latency"] = {
            "rounds": args.latency_rounds,
            "raw_jobs_api_p50_s": round(raw_p50, 4),
            "scheduler_p50_s": round(ours_p50, 4),
            "raw_jobs_api_mean_s": round(statistics.mean(peers), 4),
            "scheduler_mean_s": round(statistics.mean(ours), 4),
            "ratio_p50": round(ours_p50 / raw_p50, 3),
            "target_ratio": 1.2,
        }
        print(
            f"submit→running p50: raw {raw_p50:.3f} s, scheduler {ours_p50:.3f} s, ratio {ours_p50 / raw_p50:.2f}"
        )

        # --- drain ---
        errors_before = sum(s.value for s in _samples(scheduler))
        short = {"tenant": "bench", "entrypoint": entrypoint(0), "bundles": [{"cpu": 0.1, "memory_mib": 0}]}
        started = time.perf_counter()
        ids = [client.submit(short).id for _ in range(args.jobs)]
        queued_s = time.perf_counter() - started
        peak = 0
        on_pool_states = [JobState.ADMITTED, JobState.RUNNING, JobState.STOPPING]

        def drained() -> bool:
            nonlocal peak
            on_pool = client.store.jobs(states=on_pool_states)
            peak = max(peak, len(on_pool))
            return not client.store.jobs(states=[JobState.QUEUED, *on_pool_states])

        poll(drained, timeout_s=3600, every_s=0.5, what="the queue to drain")
        elapsed = time.perf_counter() - started
        states: dict[str, int] = {}
        for job_id in ids:
            state = client.store.job(job_id).state
            states[state] = states.get(state, 0) + 1
        errors = sum(s.value for s in _samples(scheduler)) - errors_before
        cycle_samples = [x for m in scheduler.metrics.cycle_seconds.collect() for x in m.samples]
        cycles = next(x.value for x in cycle_samples if x.name.endswith("_count"))
        cycle_sum = next(x.value for x in cycle_samples if x.name.endswith("_sum"))
        ray_failed = sum(1 for info in raw.list_jobs() if str(info.status.value) == "FAILED")
        report["drain"] = {
            "jobs": args.jobs,
            "queued_in_s": round(queued_s, 3),
            "drained_in_s": round(elapsed, 2),
            "jobs_per_s": round(args.jobs / elapsed, 2),
            "final_states": states,
            "jobs_api_errors": int(errors),
            "ray_failed_jobs": ray_failed,
            "peak_in_flight": peak,
            "scheduler_cycles": int(cycles),
            "scheduler_cycle_mean_s": round(cycle_sum / max(cycles, 1), 4),
        }
        print(
            f"drain: {args.jobs} jobs in {elapsed:.1f} s ({args.jobs / elapsed:.2f}/s), states {states}, "
            f"Jobs API errors {int(errors)}, peak in flight {peak}"
        )
        if not args.no_raw_drain:
            raw_s, raw_errors = raw_drain(raw, args.jobs, args.max_jobs, entrypoint(0))
            report["drain_raw_jobs_api"] = {
                "drained_in_s": round(raw_s, 2),
                "jobs_per_s": round(args.jobs / raw_s, 2),
                "jobs_api_errors": raw_errors,
                "ratio_scheduler_time_over_raw": round(elapsed / raw_s, 3),
            }
            print(
                f"raw Jobs API drain ({args.max_jobs} in flight): {raw_s:.1f} s, ratio {elapsed / raw_s:.2f}"
            )
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
