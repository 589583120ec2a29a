"""The fault scenarios of issue #12, one after the other, each bounded in time: `make reliability`.

Runs every ``bench/reliability/scenario_*.py`` (or those whose name contains one of the given words) in a
process of its own, killed after ``--scenario-timeout`` seconds, so that one that hangs is a failed row, not
a stuck run. A scenario module has ``def run() -> dict`` (or a list of dicts), each with ``scenario``,
``what``, ``figure`` and ``passed``. Writes bench/results/reliability.json and the table in
docs/reliability.md (between its ``<!-- results -->`` markers).

    python bench/reliability/run.py [--only WORD ...] [--scenario-timeout 600]

Starts Ray, MLflow and the platform: run it under ``flock /tmp/brain-ray.lock`` where others share the host.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench" / "results" / "reliability.json"
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- results -->", "<!-- /results -->"
KEYS = ("scenario", "what", "figure", "passed")


def discover(only: list[str]) -> list[Path]:
    found = sorted(HERE.glob("scenario_*.py"))
    return [p for p in found if not only or any(word in p.stem for word in only)]


def _child(path: str, queue: Any) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        spec = importlib.util.spec_from_file_location(Path(path).stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        result = module.run()
        queue.put(("ok", result if isinstance(result, list) else [result]))
    except BaseException:
        queue.put(("error", traceback.format_exc()))


def run_one(path: Path, timeout: float) -> list[dict[str, Any]]:
    """The rows of one scenario module, run in its own process; a failed row if it raised or ran too long."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no Ray or MLflow state shared
    queue = context.Queue()
    started = time.monotonic()
    child = context.Process(target=_child, args=(str(path), queue), name=path.stem)
    child.start()
    outcome: tuple[str, Any] | None = None
    while outcome is None and time.monotonic() - started < timeout:
        try:
            outcome = queue.get(timeout=1.0)
        except Exception:  # queue.Empty: still running
            if not child.is_alive() and queue.empty():
                break
    seconds = round(time.monotonic() - started, 1)
    if child.is_alive():
        child.join(30)  # it has put its result: let it stop what it started
    if child.is_alive():
        child.kill()
        child.join()
    if outcome is None:
        why = f"did not finish within {timeout:.0f} s" if seconds >= timeout else f"exited {child.exitcode}"
        return [{"scenario": path.stem, "what": "", "figure": why, "passed": False, "seconds": seconds}]
    status, payload = outcome
    if status == "error":
        last = payload.strip().splitlines()[-1]
        print(payload, file=sys.stderr)
        return [
            {
                "scenario": path.stem,
                "what": "",
                "figure": f"raised: {last}",
                "passed": False,
                "seconds": seconds,
            }
        ]
    rows = []
    for row in payload:
        missing = [k for k in KEYS if k not in row]
        if missing:
            row = {
                **row,
                "passed": False,
                "figure": f"{row.get('figure', '')} (missing {', '.join(missing)})",
            }
        rows.append({**{k: row.get(k, "") for k in KEYS}, **row, "seconds": seconds, "module": path.stem})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| scenario | what was done | figure | result |", "|---|---|---|---|"]
    for r in rows:
        verdict = "pass" if r["passed"] else "**FAIL**"
        lines.append(f"| {cell(r['scenario'])} | {cell(r['what'])} | {cell(r['figure'])} | {verdict} |")
    return "\n".join(lines)


def write_doc(rows: list[dict[str, Any]], started: str, seconds: float) -> None:
    text = DOC.read_text() if DOC.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = (
        f"Run of {started} on {platform.node() or 'this host'} ({multiprocessing.cpu_count()} cores), "
        f"{seconds / 60:.1f} min in all:\n\n{table(rows)}\n"
    )
    DOC.write_text(f"{head}{BEGIN}\n{body}{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", default=[], help="run the scenarios whose file name has a word")
    parser.add_argument("--scenario-timeout", type=float, default=600.0, help="seconds per scenario module")
    parser.add_argument(
        "--no-doc", action="store_true", help="do not rewrite the table in docs/reliability.md"
    )
    args = parser.parse_args()
    paths = discover(args.only)
    if not paths:
        sys.exit(f"no scenario matches {args.only} in {HERE}")
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    rows: list[dict[str, Any]] = []
    for path in paths:
        print(f"== {path.stem}", flush=True)
        found = run_one(path, args.scenario_timeout)
        for row in found:
            print(f"   {'pass' if row['passed'] else 'FAIL'}  {row['scenario']}: {row['figure']}", flush=True)
        rows.extend(found)
    seconds = time.monotonic() - clock
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"started": started, "seconds": round(seconds, 1), "rows": rows}, indent=1, ensure_ascii=False
        )
    )
    if not args.no_doc:
        write_doc(rows, started, seconds)
    print(f"{sum(r['passed'] for r in rows)} of {len(rows)} passed in {seconds / 60:.1f} min; {RESULTS}")
    sys.exit(0 if all(r["passed"] for r in rows) else 1)


if __name__ == "__main__":
    main()
