"""The curated chain graph and synthetic enterprises placed on it.

Assumptions for the synthetic enterprises (no real company data is used; names are made up and any
resemblance to a real company is accidental):
- Each enterprise is in one of Shandong's 16 cities, uniformly, and works in one of the chains that city is
  known for, drawn by the city's weights in chains.yaml.
- It makes a "segment" of that chain: one product, plus with probability 0.5 a neighbouring product up or
  down the chain (vertical integration), plus with probability 0.2 one more; the first product and the chain
  are its archetype, used only to evaluate the similarity search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

CHAINS_FILE = Path(__file__).with_name("chains.yaml")

_NAME_PARTS = "华鲁泰海金新恒瑞宏盛东齐宇博远德信融达兴昌隆丰源启航智诚"
_TRADE = {
    "new-generation-it": "电子科技",
    "high-end-equipment": "智能装备",
    "new-energy-equipment": "新能源科技",
    "advanced-materials": "新材料",
    "shipbuilding-offshore": "海洋装备",
    "high-end-chemicals": "化工",
    "agricultural-machinery": "农业装备",
    "pharmaceuticals": "医药",
    "construction-machinery": "机械",
    "light-industry": "实业",
    "textiles-apparel": "纺织",
}


def load_chains() -> dict[str, Any]:
    return dict(yaml.safe_load(CHAINS_FILE.read_text(encoding="utf-8")))


def chain_products(chains: dict[str, Any], chain: str) -> list[str]:
    return sorted({p for link in chains["chains"][chain]["links"] for p in link})


def generate_enterprises(chains: dict[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` synthetic enterprises: id, name, city, chain, products and the archetype they were drawn from."""
    rng = np.random.default_rng(seed)
    cities = list(chains["cities"])
    enterprises = []
    for i in range(n):
        city = cities[rng.integers(len(cities))]
        weights = chains["cities"][city]["chains"]
        names = list(weights)
        p = np.array([weights[c] for c in names], dtype=float)
        chain = names[rng.choice(len(names), p=p / p.sum())]
        links = chains["chains"][chain]["links"]
        products = chain_products(chains, chain)
        first = products[rng.integers(len(products))]
        made = [first]
        for probability in (0.5, 0.2):
            if rng.random() < probability:
                adjacent = {b for a, b in links if a in made} | {a for a, b in links if b in made}
                neighbours = sorted(adjacent - set(made))
                if neighbours:
                    made.append(neighbours[rng.integers(len(neighbours))])
        word = "".join(rng.choice(list(_NAME_PARTS), 2, replace=False))
        enterprises.append(
            {
                "id": f"E{i + 1:04d}",
                "name": f"{city}{word}{_TRADE[chain]}有限公司",
                "city": city,
                "chain": chain,
                "products": made,
                "archetype": f"{chain}/{first}",
            }
        )
    return enterprises
