from __future__ import annotations

from pathlib import Path

import pytest

from model_hub import Card, CardInvalid, Kind, Visibility
from model_hub.taxonomy import INDUSTRIES, industry
from tests.cards import card_data, make_card


def test_a_valid_card_parses_with_its_enums() -> None:
    card = make_card()
    assert card.kind is Kind.process
    assert card.kind.zh == "工艺"
    assert card.visibility is Visibility.public
    assert card.inputs[0].shape == [-1, 4]


def test_industry_table_has_the_eleven_chains_and_the_services() -> None:
    flagship = [i for i in INDUSTRIES if i.group == "flagship"]
    assert len(flagship) == 11
    assert {i.zh for i in flagship} >= {"高端化工", "船舶和海工装备", "纺织服装"}
    assert industry("transport").zh == "交通运输"
    with pytest.raises(ValueError, match="unknown industry 'steel'"):
        industry("steel")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "magic"}, "kind"),
        ({"industries": ["steel"]}, "unknown industry 'steel'"),
        ({"industries": []}, "industries"),
        ({"name": "Bad Name!"}, "not a valid component name"),
        ({"name": "x"}, "not a valid component name"),
        ({"visibility": "secret"}, "visibility"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"inputs": [{"name": "x", "datatype": "FLOAT", "shape": [-1]}]}, "inputs.0.datatype"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [-2, 3]}]}, "dimension -2 is invalid"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [0]}]}, "dimension 0 is invalid"),
        (
            {
                "outputs": [
                    {"name": "y", "datatype": "FP32", "shape": [1]},
                    {"name": "y", "datatype": "FP32", "shape": [1]},
                ]
            },
            "tensor names must be unique",
        ),
        ({"industries": ["transport", "transport"]}, "listed twice"),
    ],
)
def test_malformed_cards_are_refused_with_the_field_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(CardInvalid, match=message):
        Card.parse(card_data(**overrides))


def test_a_missing_field_is_named() -> None:
    data = card_data()
    del data["owner"]
    with pytest.raises(CardInvalid, match="owner: required field is missing"):
        Card.parse(data)


def test_cards_load_from_yaml_and_json(tmp_path: Path) -> None:
    import json

    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(card_data(), allow_unicode=True), encoding="utf-8")
    (tmp_path / "c.json").write_text(json.dumps(card_data()), encoding="utf-8")
    assert Card.load(tmp_path / "c.yaml") == Card.load(tmp_path / "c.json")


def test_unreadable_card_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(CardInvalid, match="cannot read card file"):
        Card.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(CardInvalid, match="not valid YAML"):
        Card.load(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(CardInvalid, match="must hold a mapping of card fields"):
        Card.load(tmp_path / "list.yaml")


def test_markdown_shows_the_card_in_both_languages() -> None:
    md = make_card().to_markdown()
    assert "反应釜质量预测 / Reactor quality prediction" in md
    assert "工艺 process" in md
    assert "高端化工 High-end chemicals" in md
    assert "GB/T 32150-2015" in md
    assert "| mae | 0.1 | 0.3 |" in md
    assert "| input | x | FP32 | [-1, 4] |" in md
