"""The curated chain graph, questions answered on it, and the rankings against their baselines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from components import Trained
from components.industry_chain_graph.data import load_chains
from components.industry_chain_graph.formula import compute
from model_hub.taxonomy import INDUSTRIES


def ask(parameters: dict[str, Any], query: str, subject: str | bytes, limit: int = 0) -> list[dict[str, Any]]:
    out = compute(
        {
            "query": np.array([query.encode()], dtype=object),
            "subject": np.array([subject], dtype=object),
            "limit": np.array([limit], dtype=np.int64),
        },
        parameters,
    )
    items: list[dict[str, Any]] = json.loads(out["answer"][0])["items"]
    assert out["count"][0] == len(items)
    return items


def test_the_curated_file_covers_the_eleven_flagship_chains_without_cycles() -> None:
    chains = load_chains()
    flagship = {i.code for i in INDUSTRIES if i.group == "flagship"}
    assert set(chains["chains"]) == flagship
    assert len(chains["cities"]) == 16 and chains["sources"]
    links = [tuple(link) for c in chains["chains"].values() for link in c["links"]]
    assert {p for link in links for p in link} == set(chains["products"])
    # Kahn's algorithm: a supply chain has no cycles.
    indegree = {p: 0 for p in chains["products"]}
    for _, b in set(links):
        indegree[b] += 1
    ready = [p for p, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for a, b in set(links):
            if a == node:
                indegree[b] -= 1
                if indegree[b] == 0:
                    ready.append(b)
    assert seen == len(indegree)


def test_upstream_of_industrial_robots(train_small: Callable[[str], Trained]) -> None:
    params = train_small("industry_chain_graph").parameters
    assert params is not None
    depth = {i["product"]: i["depth"] for i in ask(params, "upstream", "工业机器人")}
    assert depth == {
        "precision_reducers": 1,
        "servo_motors": 1,
        "bearings": 2,
        "special_steel": 2,
        "ndfeb_magnets": 2,
        "rare_earth_oxides": 3,
    }


def test_downstream_of_pta_reaches_garments(train_small: Callable[[str], Trained]) -> None:
    params = train_small("industry_chain_graph").parameters
    assert params is not None
    depth = {i["product"]: i["depth"] for i in ask(params, "downstream", b"PTA")}  # bytes, by code, any case
    assert depth == {
        "polyester_fiber": 1,
        "yarn": 2,
        "fabric": 3,
        "dyeing_finishing": 4,
        "garments": 5,
        "home_textiles": 5,
    }


def tiny(enterprises: list[dict[str, Any]]) -> dict[str, Any]:
    """A three-product chain a → b → c in two cities."""
    return {
        "products": {p: {"zh": p.upper(), "en": p} for p in ("a", "b", "c")},
        "chains": {"demo": {"links": [["a", "b"], ["b", "c"]]}},
        "cities": {"甲": {"en": "Jia", "chains": {"demo": 1}}, "乙": {"en": "Yi", "chains": {"demo": 1}}},
        "enterprises": enterprises,
    }


def test_missing_link_is_the_gap_between_local_suppliers_and_customers() -> None:
    params = tiny(
        [
            {"id": "E1", "name": "x", "city": "甲", "chain": "demo", "products": ["a"]},
            {"id": "E2", "name": "y", "city": "甲", "chain": "demo", "products": ["c"]},
            {"id": "E3", "name": "z", "city": "甲", "chain": "demo", "products": ["c"]},
            {"id": "E4", "name": "w", "city": "乙", "chain": "demo", "products": ["b"]},
        ]
    )
    (item,) = ask(params, "missing_links", "Jia")
    assert item["product"] == "b"
    assert (item["local_suppliers"], item["local_customers"], item["score"]) == (1, 2, 3)
    assert item["made_in"] == ["乙"]


def test_similar_enterprises_rank_shared_products_above_neighbours() -> None:
    params = tiny(
        [
            {"id": "E1", "name": "x", "city": "甲", "chain": "demo", "products": ["a", "b"]},
            {"id": "E2", "name": "y", "city": "乙", "chain": "demo", "products": ["a", "b"]},
            {"id": "E3", "name": "z", "city": "甲", "chain": "demo", "products": ["c"]},
        ]
    )
    items = ask(params, "similar_enterprises", "E1")
    assert [i["id"] for i in items] == ["E2", "E3"]
    assert items[0]["score"] == 1.0
    # E1's profile: a 1, b 1, c 0.5 (neighbour); E3's: c 1, b 0.5 → overlap 1.0 over 3.0
    assert items[1]["score"] == pytest.approx(1 / 3, abs=1e-4)


@pytest.mark.parametrize(
    ("query", "subject"), [("upstream", "unobtainium"), ("rank", "a"), ("missing_links", "北京")]
)
def test_bad_questions_are_refused_with_a_reason(query: str, subject: str) -> None:
    with pytest.raises(ValueError, match="unknown"):
        ask(tiny([]), query, subject)


def test_rankings_beat_their_baselines(train_small: Callable[[str], Trained]) -> None:
    for metric in train_small("industry_chain_graph").card.metrics:
        assert metric.baseline is not None and metric.value > 1.5 * metric.baseline
