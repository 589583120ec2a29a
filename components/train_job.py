"""Training built-in components as a scheduler job: `python -m components.train_job NAME… --job-id ID`.

`brain components train` submits this to the local pool when the scheduler runs, so training takes
a slot under the platform tenant's quota like any other job, and the registered versions carry the
job id as their lineage. It prints one JSON line per component for the caller to follow.
"""

from __future__ import annotations

import argparse
import json
import sys

from components.catalog import BUILTINS, builtin
from components.publish import Published, publish
from model_hub import Registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.train_job")
    parser.add_argument("names", nargs="*", help="built-in components (default: all)")
    parser.add_argument("--retrain", action="store_true", help="register a new version even if one exists")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--job-id", default=None, help="the scheduler's job id, recorded as lineage")
    args = parser.parse_args(argv)
    try:
        chosen = [builtin(n) for n in args.names] if args.names else list(BUILTINS)
    except ValueError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    registry = Registry()
    registry.sync()

    def done(p: Published) -> None:
        line = {
            "name": p.name,
            "version": p.version.version,
            "trained": p.trained,
            "seconds": round(p.seconds, 2),
        }
        print(json.dumps(line), flush=True)

    try:
        publish(
            registry, chosen, retrain=args.retrain, seed=args.seed, training_job=args.job_id, on_done=done
        )
    finally:
        registry.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
