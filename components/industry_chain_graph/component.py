"""The industry chain graph component: parameters, evaluation of its rankings, and the card."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from components.base import LICENSE, OWNER, BuiltinComponent, Trained
from components.industry_chain_graph import data, formula
from model_hub.card import Card, Metric, Names, TensorSpec
from model_hub.taxonomy import Kind, Visibility

TOP = 3


class IndustryChainGraph(BuiltinComponent):
    name = "industry_chain_graph"

    def __init__(self, enterprises: int = 600) -> None:
        self.enterprises = enterprises

    def train(self, seed: int = 0) -> Trained:
        chains = data.load_chains()
        enterprises = data.generate_enterprises(chains, self.enterprises, seed=seed)
        params = parameters(chains, enterprises)
        rng = np.random.default_rng(seed + 1)
        metrics = {
            "similar_enterprises_precision_at_5": similarity_precision(params, enterprises, rng),
            f"missing_link_hit_rate_at_{TOP}": missing_link_hit_rate(params, rng),
        }
        return Trained(card=card(params, metrics), formula=f"{formula.__name__}:compute", parameters=params)

    def example(self) -> dict[str, np.ndarray]:
        """Three questions: what feeds industrial robots, what Weifang's chains lack, who is like E0001."""
        return {
            "query": np.array(["upstream", "missing_links", "similar_enterprises"], dtype=object),
            "subject": np.array(["工业机器人", "潍坊", "E0001"], dtype=object),
            "limit": np.array([3, 3, 3], dtype=np.int64),
        }


def parameters(chains: dict[str, Any], enterprises: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": chains["version"],
        "sources": chains["sources"],
        "products": chains["products"],
        "chains": chains["chains"],
        "cities": chains["cities"],
        # The archetype is the generator's ground truth for evaluation, not knowledge to serve.
        "enterprises": [{k: v for k, v in e.items() if k != "archetype"} for e in enterprises],
    }


def similarity_precision(
    params: dict[str, Any], enterprises: list[dict[str, Any]], rng: np.random.Generator, probes: int = 60
) -> tuple[float, float]:
    """Share of the top 5 that are true peers (same archetype: same chain, same main product).

    Baseline: five random enterprises of the same chain, what a lookup by industry classification gives.
    """
    graph = formula.Graph(params)
    archetype = {e["id"]: e["archetype"] for e in enterprises}
    found, baseline = [], []
    for i in rng.choice(len(enterprises), size=min(probes, len(enterprises)), replace=False):
        e = enterprises[int(i)]
        top = graph.similar(graph.enterprise(e["id"]))[:5]
        found.append(np.mean([archetype[t["id"]] == e["archetype"] for t in top]) if top else 0.0)
        same_chain = [o for o in enterprises if o["chain"] == e["chain"] and o["id"] != e["id"]]
        picks = rng.choice(len(same_chain), size=min(5, len(same_chain)), replace=False)
        baseline.append(np.mean([same_chain[int(j)]["archetype"] == e["archetype"] for j in picks]))
    return float(np.mean(found)), float(np.mean(baseline))


def missing_link_hit_rate(
    params: dict[str, Any], rng: np.random.Generator, rounds: int = 3
) -> tuple[float, float]:
    """Remove one product a city makes from all its enterprises; is it among the top 3 missing links?

    Baseline: the same candidates in random order (expected hit rate 3 / number of candidates).
    """
    hits, baseline = [], []
    for _ in range(rounds):
        for city in params["cities"]:
            made = sorted({p for e in params["enterprises"] if e["city"] == city for p in e["products"]})
            if not made:
                continue
            hidden = made[rng.integers(len(made))]
            trial = copy.deepcopy(params)
            for e in trial["enterprises"]:
                if e["city"] == city:
                    e["products"] = [p for p in e["products"] if p != hidden]
            ranked = [item["product"] for item in formula.Graph(trial).missing_links(city)]
            if hidden not in ranked:
                hits.append(0.0)
                baseline.append(0.0)
                continue
            hits.append(float(hidden in ranked[:TOP]))
            baseline.append(min(TOP, len(ranked)) / len(ranked))
    return float(np.mean(hits)), float(np.mean(baseline))


def card(params: dict[str, Any], metrics: dict[str, tuple[float, float]]) -> Card:
    n_links = sum(len(c["links"]) for c in params["chains"].values())
    return Card(
        name="industry_chain_graph",
        display=Names(zh="产业链全景图谱", en="Industry chain graph"),
        kind=Kind.knowledge,
        industries=list(params["chains"]),
        task="knowledge graph query",
        owner=OWNER,
        license=LICENSE,
        visibility=Visibility.public,
        intended_use=(
            "产业全景图谱与沿链精准招商：查询产品的上下游、城市产业链缺失环节（招商目标及其产地）、相似企业。"
            f"覆盖山东 11 条标志性产业链，{len(params['products'])} 种产品、{n_links} 条供应关系、16 个地市。"
            "Industry panorama and chain-based investment "
            "promotion: upstream and downstream of a product, the "
            "links missing in a city's chains (investment "
            "targets and where they are made), similar enterprises."
        ),
        out_of_scope_use="企业信用与经营评价。Credit or performance rating of enterprises.",
        limitations=(
            "产业链结构为项目整理的简化版本（来源见参数 sources），企业为合成数据。The chain structure is a "
            f"simplified curation (version {params['version']}, sources in the parameters); enterprises are "
            f"synthetic ({len(params['enterprises'])}). Replace them with the registry of the industry brain."
        ),
        metrics=[
            Metric(
                name=name,
                value=value,
                baseline=base,
                dataset=(
                    "synthetic enterprises; baselines: random "
                    "same-chain enterprises (similarity), random order "
                    "of the candidates (missing links, a removed product must come back in the top 3)"
                ),
            )
            for name, (value, base) in metrics.items()
        ],
        standards=["GB/T 4754-2017 (product classes)"],
        inputs=[
            TensorSpec(name="query", datatype="BYTES", shape=[-1], description=", ".join(formula.QUERIES)),
            TensorSpec(
                name="subject",
                datatype="BYTES",
                shape=[-1],
                description="product code or name (upstream/downstream), city (missing_links), "
                "enterprise id or name (similar_enterprises)",
            ),
            TensorSpec(
                name="limit", datatype="INT64", shape=[-1], description="most items to return, 0 for all"
            ),
        ],
        outputs=[
            TensorSpec(
                name="answer",
                datatype="BYTES",
                shape=[-1],
                description='JSON per row: {"query", "subject", "items": [...]}',
            ),
            TensorSpec(name="count", datatype="INT64", shape=[-1], description="number of items returned"),
        ],
        version_notes=f"chain graph {params['version']}",
    )
