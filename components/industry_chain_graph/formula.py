"""Questions to the industry chain graph (a pure formula over the graph in its JSON parameters).

Each row of a request is one question:
- `upstream` / `downstream` of a product: every product that feeds it (or that it feeds), with the number of
  links between them, nearest first;
- `missing_links` of a city (沿链招商): products of the city's chains that no enterprise of the city makes
  although the city's enterprises supply them or buy from them, ranked by how many of the city's
  enterprises are adjacent, with the cities that do make them (where to look for investors);
- `similar_enterprises` to an enterprise: enterprises with the most similar product portfolio, where making a
  neighbouring product counts half (a supplier of the same customers is a peer, too).
"""

from __future__ import annotations

import json
from collections import Counter, deque
from typing import Any

import numpy as np

from components.tensors import as_text, require

QUERIES = ("upstream", "downstream", "missing_links", "similar_enterprises")
NEIGHBOUR_WEIGHT = 0.5


class Graph:
    """The supply links of all chains, indexed for the questions above."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.products: dict[str, dict[str, str]] = parameters["products"]
        self.suppliers: dict[str, set[str]] = {p: set() for p in self.products}
        self.customers: dict[str, set[str]] = {p: set() for p in self.products}
        self.chains_of: dict[str, set[str]] = {p: set() for p in self.products}
        for chain, spec in parameters["chains"].items():
            for a, b in spec["links"]:
                self.suppliers[b].add(a)
                self.customers[a].add(b)
                self.chains_of[a].add(chain)
                self.chains_of[b].add(chain)
        self.enterprises: list[dict[str, Any]] = parameters["enterprises"]
        self.cities: dict[str, dict[str, Any]] = parameters["cities"]
        self._product_names = {k.lower(): k for k in self.products} | {
            name.lower(): code for code, n in self.products.items() for name in (n["zh"], n["en"])
        }

    def product(self, subject: str) -> str:
        code = self._product_names.get(subject.strip().lower())
        if code is None:
            raise ValueError(
                f"unknown product {subject!r}; use a product code, Chinese or English name from the card"
            )
        return code

    def city(self, subject: str) -> str:
        for zh, spec in self.cities.items():
            if (
                subject.strip() in (zh, zh.removesuffix("市"))
                or subject.strip().lower() == spec["en"].lower()
            ):
                return zh
        raise ValueError(f"unknown city {subject!r}; use one of {', '.join(self.cities)}")

    def enterprise(self, subject: str) -> dict[str, Any]:
        for e in self.enterprises:
            if subject.strip() in (e["id"], e["name"]):
                return e
        raise ValueError(
            f"unknown enterprise {subject!r}; use an enterprise id such as E0001 or its full name"
        )

    def describe(self, code: str) -> dict[str, Any]:
        return {"product": code, **self.products[code], "chains": sorted(self.chains_of[code])}

    def walk(self, start: str, direction: str) -> list[dict[str, Any]]:
        edges = self.suppliers if direction == "upstream" else self.customers
        depth = {start: 0}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nxt in sorted(edges[node]):
                if nxt not in depth:
                    depth[nxt] = depth[node] + 1
                    queue.append(nxt)
        return [
            {**self.describe(p), "depth": d}
            for p, d in sorted(depth.items(), key=lambda x: (x[1], x[0]))
            if d
        ]

    def missing_links(self, city: str) -> list[dict[str, Any]]:
        local = [e for e in self.enterprises if e["city"] == city]
        made = Counter(p for e in local for p in set(e["products"]))
        chains = {c for p in made for c in self.chains_of[p]}
        makers = {
            p: Counter(e["city"] for e in self.enterprises if p in e["products"]) for p in self.products
        }
        found = []
        for p in sorted(self.products):
            if p in made or not (self.chains_of[p] & chains):
                continue
            upstream_here = sum(made[s] for s in self.suppliers[p])
            downstream_here = sum(made[c] for c in self.customers[p])
            if upstream_here + downstream_here == 0:
                continue
            found.append(
                {
                    **self.describe(p),
                    "score": upstream_here + downstream_here,
                    "local_suppliers": upstream_here,
                    "local_customers": downstream_here,
                    "made_in": [c for c, _ in makers[p].most_common(3)],
                }
            )
        return sorted(found, key=lambda x: (-x["score"], x["product"]))

    def profile(self, products: list[str]) -> dict[str, float]:
        weights: dict[str, float] = {}
        for p in products:
            for n in self.suppliers[p] | self.customers[p]:
                weights[n] = max(weights.get(n, 0.0), NEIGHBOUR_WEIGHT)
        return weights | {p: 1.0 for p in products}

    def similar(self, enterprise: dict[str, Any]) -> list[dict[str, Any]]:
        mine = self.profile(enterprise["products"])
        scored = []
        for other in self.enterprises:
            if other["id"] == enterprise["id"]:
                continue
            theirs = self.profile(other["products"])
            keys = mine.keys() | theirs.keys()
            overlap = sum(min(mine.get(k, 0.0), theirs.get(k, 0.0)) for k in keys)
            if overlap == 0:
                continue
            score = overlap / sum(max(mine.get(k, 0.0), theirs.get(k, 0.0)) for k in keys)
            scored.append(
                {k: other[k] for k in ("id", "name", "city", "products")} | {"score": round(score, 4)}
            )
        return sorted(scored, key=lambda x: (-x["score"], x["id"]))


def compute(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """Answer each row's question; `answer` holds one JSON document per row."""
    require(inputs, "query", "subject", "limit")
    queries, subjects = as_text(inputs["query"]), as_text(inputs["subject"])
    limits = np.asarray(inputs["limit"]).reshape(-1)
    if not len(queries) == len(subjects) == len(limits):
        raise ValueError("query, subject and limit must have the same number of rows")
    graph = Graph(parameters)
    answers, counts = [], []
    for query, subject, limit in zip(queries, subjects, limits, strict=True):
        if query == "upstream" or query == "downstream":
            code = graph.product(subject)
            items, about = graph.walk(code, query), graph.describe(code)
        elif query == "missing_links":
            city = graph.city(subject)
            items, about = graph.missing_links(city), {"city": city, "en": graph.cities[city]["en"]}
        elif query == "similar_enterprises":
            enterprise = graph.enterprise(subject)
            items = graph.similar(enterprise)
            about = {k: enterprise[k] for k in ("id", "name", "city", "products")}
        else:
            raise ValueError(f"unknown query {query!r}; use one of {', '.join(QUERIES)}")
        if int(limit) > 0:
            items = items[: int(limit)]
        answers.append(json.dumps({"query": query, "subject": about, "items": items}, ensure_ascii=False))
        counts.append(len(items))
    return {"answer": np.array(answers, dtype=object), "count": np.array(counts, dtype=np.int64)}
