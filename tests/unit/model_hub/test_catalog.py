from __future__ import annotations

import pytest

from model_hub import Catalog, Kind, Query, Viewer, Visibility
from tests.cards import make_card


@pytest.fixture
def catalog() -> Catalog:
    cat = Catalog(":memory:")
    rows = [
        make_card(
            name="carbon-accounting",
            kind="mechanism",
            industries=["high-end-chemicals", "advanced-materials"],
            display={"zh": "碳排放核算", "en": "Carbon accounting"},
            visibility="public",
            owner="province",
        ),
        make_card(
            name="bearing-health",
            kind="mechanism",
            industries=["high-end-equipment"],
            display={"zh": "轴承健康诊断", "en": "Bearing health"},
            visibility="industry",
            owner="weichai",
        ),
        make_card(
            name="chain-graph",
            kind="knowledge",
            industries=["new-generation-it"],
            display={"zh": "产业链图谱", "en": "Industry chain graph"},
            visibility="private",
            owner="jinan-it",
        ),
        make_card(
            name="reactor-quality",
            kind="process",
            industries=["high-end-chemicals"],
            display={"zh": "反应釜质量预测", "en": "Reactor quality"},
            visibility="private",
            owner="lubei-chem",
        ),
    ]
    for i, card in enumerate(rows):
        cat.upsert(card, latest_version=1, production_version=1, deprecated=False, updated_ms=i)
    return cat


def names(page: object) -> list[str]:
    return [e.name for e in page.items]  # type: ignore[attr-defined]


def test_kinds_are_ored(catalog: Catalog) -> None:
    page = catalog.search(Query(kinds=[Kind.knowledge, Kind.process]))
    assert names(page) == ["chain-graph", "reactor-quality"]
    assert page.total == 2


def test_industries_are_ored_and_matched_whole(catalog: Catalog) -> None:
    assert names(catalog.search(Query(industries=["advanced-materials", "high-end-equipment"]))) == [
        "bearing-health",
        "carbon-accounting",
    ]
    assert names(catalog.search(Query(industries=["high-end-chemicals"]))) == [
        "carbon-accounting",
        "reactor-quality",
    ]


def test_visibility_rules_for_a_viewer(catalog: Catalog) -> None:
    # A chemicals enterprise: public ones, its own private one; not the equipment industry's.
    chem = Viewer(tenant="lubei-chem", industries=frozenset({"high-end-chemicals"}))
    assert names(catalog.search(Query(), chem)) == ["carbon-accounting", "reactor-quality"]
    # An equipment enterprise sees the industry-visible bearing component.
    equip = Viewer(tenant="shantui", industries=frozenset({"high-end-equipment"}))
    assert names(catalog.search(Query(), equip)) == ["bearing-health", "carbon-accounting"]
    # The admin sees everything.
    assert catalog.search(Query(), Viewer(tenant="ops", admin=True)).total == 4
    assert names(catalog.search(Query(visibilities=[Visibility.private]))) == [
        "chain-graph",
        "reactor-quality",
    ]


def test_free_text_in_chinese_and_english(catalog: Catalog) -> None:
    assert names(catalog.search(Query(text="碳排放"))) == ["carbon-accounting"]
    assert names(catalog.search(Query(text="图谱"))) == ["chain-graph"]  # two characters: below a trigram
    assert names(catalog.search(Query(text="BEARING"))) == ["bearing-health"]
    assert names(catalog.search(Query(text='quality" OR "x'))) == []  # FTS syntax is taken literally
    assert names(catalog.search(Query(text="100%"))) == []


@pytest.mark.parametrize("text", ["a\x00bc", "ab\x00", "ste\nel", "\x7f"])
def test_search_text_with_control_characters_is_refused(catalog: Catalog, text: str) -> None:
    # Not a database error: SQLite ends a string at NUL.
    with pytest.raises(ValueError, match="control character"):
        catalog.search(Query(text=text), Viewer(tenant="anyone", industries=frozenset()))


def test_pagination_and_owner(catalog: Catalog) -> None:
    first = catalog.search(Query(page=1, page_size=3))
    second = catalog.search(Query(page=2, page_size=3))
    assert first.total == second.total == 4
    assert len(first.items) == 3 and len(second.items) == 1
    assert set(names(first)).isdisjoint(names(second))
    assert names(catalog.search(Query(owner="weichai"))) == ["bearing-health"]


def test_deprecated_are_hidden_unless_asked_and_upsert_replaces(catalog: Catalog) -> None:
    card = make_card(name="bearing-health", kind="mechanism", industries=["transport"], owner="weichai")
    catalog.upsert(card, latest_version=2, production_version=1, deprecated=True, updated_ms=99)
    assert "bearing-health" not in names(catalog.search(Query()))
    page = catalog.search(Query(include_deprecated=True, industries=["transport"]))
    assert names(page) == ["bearing-health"]
    assert page.items[0].latest_version == 2
    assert catalog.search(Query(industries=["high-end-equipment"], include_deprecated=True)).total == 0
    assert catalog.newest_update_ms() == 99


def test_a_pipeline_is_marked_with_its_steps(catalog: Catalog) -> None:
    card = make_card(name="forecast-carbon", owner="province", display={"zh": "碳排放预测", "en": "Forecast"})
    catalog.upsert(
        card,
        latest_version=1,
        production_version=1,
        deprecated=False,
        updated_ms=100,
        steps=["forecast: energy_forecast", "carbon: carbon_accounting"],
    )
    entries = {e.name: e for e in catalog.search(Query(text="碳排放")).items}
    assert entries["forecast-carbon"].as_dict()["pipeline"] == {
        "steps": ["forecast: energy_forecast", "carbon: carbon_accounting"]
    }
    assert (
        entries["carbon-accounting"].steps is None
        and "pipeline" not in entries["carbon-accounting"].as_dict()
    )
    # Text search hits the same row through the trigram index as well.
    assert [e.name for e in catalog.search(Query(text="forecast-carbon")).items] == ["forecast-carbon"]
