"""Catalogue search latency at 1,000 and 10,000 components, next to MLflow's own registry search.

Registers N small formula components through the real registry path (MLflow on SQLite, artifacts,
manifest, catalogue index), then times typical catalogue searches against a raw MLflow
`search_registered_models` tag filter in the same run. Writes bench/results/catalog_search.json.

    python bench/catalog_search.py [--sizes 1000,10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_hub import INDUSTRIES, Card, HubSettings, Kind, Query, Registry, Viewer, Visibility  # noqa: E402
from model_hub.store import model_tags  # noqa: E402

WORDS_ZH = [
    "碳排放",
    "质量",
    "设备健康",
    "能耗预测",
    "产业链",
    "产能",
    "轴承",
    "反应釜",
    "电力",
    "纺织",
    "船舶",
    "农机",
]
WORDS_EN = [
    "carbon",
    "quality",
    "health",
    "energy",
    "chain",
    "capacity",
    "bearing",
    "reactor",
    "power",
    "textile",
]
OWNERS = [f"tenant-{i:03d}" for i in range(50)]


def make_card(i: int, rng: random.Random) -> Card:
    zh = rng.choice(WORDS_ZH) + rng.choice(WORDS_ZH) + f"组件{i}"
    en = f"{rng.choice(WORDS_EN)} {rng.choice(WORDS_EN)} component {i}"
    return Card.parse(
        {
            "name": f"bench-{i:05d}",
            "display": {"zh": zh, "en": en},
            "kind": rng.choice(list(Kind)).value,
            "industries": rng.sample([x.code for x in INDUSTRIES], k=rng.randint(1, 3)),
            "task": rng.choice(["regression", "classification", "forecasting", "calculation"]),
            "owner": rng.choice(OWNERS),
            "license": "Apache-2.0",
            "visibility": rng.choice(list(Visibility)).value,
            "intended_use": f"Benchmark component {i}: {en}.",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}],
        }
    )


def timed(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    fn()  # warm caches once, as a long-running server would be
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def bulk_register(registry: Registry, card: Card) -> None:
    """A registered model with the card's tags and description, indexed; no version or artifact.

    Enough for search benchmarks at 10,000 (the searches never read versions) at a fifth of the
    cost of the full registration path, which the first ``--full-path`` components still take.
    """
    model = registry.client.create_registered_model(
        card.name, tags=model_tags(card), description=card.to_markdown()
    )
    registry.catalog.upsert(
        card,
        latest_version=None,
        production_version=None,
        deprecated=False,
        updated_ms=int(model.last_updated_timestamp or 0),
    )


def run(sizes: list[int], repeats: int, full_path: int) -> dict[str, object]:
    rng = random.Random(7)
    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as home:
        registry = Registry(HubSettings(home=Path(home), formula_packages=["tests"]))
        registered = 0
        for size in sizes:
            t0 = time.perf_counter()
            while registered < size:
                card = make_card(registered, rng)
                if registered < full_path:
                    registry.register_formula(card, "tests.formulas:scale", {"factor": 1})
                else:
                    bulk_register(registry, card)
                registered += 1
                if registered % 1000 == 0:
                    print(f"  registered {registered}", file=sys.stderr, flush=True)
            reg_seconds = time.perf_counter() - t0
            catalogue, raw = queries(registry)
            row: dict[str, object] = {
                "registered": registered,
                "registered_through_full_path": min(registered, full_path),
                "registration_s": round(reg_seconds, 1),
                "catalogue": {k: timed(f, repeats) for k, f in catalogue.items()},
                "mlflow_raw": {k: timed(f, max(20, repeats // 5)) for k, f in raw.items()},
            }
            raw_p95 = row["mlflow_raw"]["mlflow_tag_filter"]["p95_ms"]  # type: ignore[index]
            worst = max(v["p95_ms"] for v in row["catalogue"].values())  # type: ignore[attr-defined]
            row["worst_catalogue_p95_ms"] = worst
            row["ratio_worst_catalogue_p95_to_raw_p95"] = round(worst / raw_p95, 3)
            results["sizes"][str(size)] = row  # type: ignore[index]
            print_row(size, row)
        registry.close()
    return results


def queries(registry: Registry) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]]]:
    """Typical catalogue searches, and MLflow's own tag filter, as zero-argument calls."""
    viewer = Viewer(tenant="tenant-007", industries=frozenset({"high-end-chemicals", "transport"}))
    client = registry.client
    catalogue: dict[str, Callable[[], object]] = {
        "kind_or_kind": lambda: registry.search(Query(kinds=[Kind.process, Kind.mechanism])),
        "industry": lambda: registry.search(Query(industries=["high-end-chemicals"])),
        "visible_to_tenant": lambda: registry.search(Query(), viewer),
        "text_zh": lambda: registry.search(Query(text="设备健康"), viewer),
        "text_en": lambda: registry.search(Query(text="bearing"), viewer),
        "kind_industry_text_tenant": lambda: registry.search(
            Query(kinds=[Kind.process], industries=["transport", "textiles-apparel"], text="能耗"), viewer
        ),
    }
    raw: dict[str, Callable[[], object]] = {
        "mlflow_tag_filter": lambda: client.search_registered_models(
            filter_string="tags.`brain.kind` = 'process'", max_results=20
        ),
        "mlflow_tag_filter_all_pages": lambda: _all_pages(client),
    }
    return catalogue, raw


def _all_pages(client: object) -> int:
    count, token = 0, None
    while True:
        page = client.search_registered_models(  # type: ignore[attr-defined]
            filter_string="tags.`brain.kind` = 'process'", max_results=1000, page_token=token
        )
        count += len(page)
        token = page.token
        if not token:
            return count


def print_row(size: int, row: dict[str, object]) -> None:
    print(f"\n== {size} components (registered in {row['registration_s']} s) ==")
    print(f"{'query':34} {'p50 ms':>9} {'p95 ms':>9}")
    for group in ("catalogue", "mlflow_raw"):
        for name, t in row[group].items():  # type: ignore[attr-defined]
            print(f"{group + ':' + name:34} {t['p50_ms']:9.3f} {t['p95_ms']:9.3f}")
    print(f"worst catalogue p95 / raw MLflow tag filter p95 = {row['ratio_worst_catalogue_p95_to_raw_p95']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=200, help="repetitions per query")
    parser.add_argument(
        "--full-path",
        type=int,
        default=1000,
        help="components registered through the full path (artifacts, version); the rest in bulk",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "catalog_search.json"))
    args = parser.parse_args()
    results = run([int(s) for s in args.sizes.split(",")], args.queries, args.full_path)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
