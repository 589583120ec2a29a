"""Code tables: component kinds and the industries of Shandong's industry brains.

The industries are the 11 flagship industry chains (标志性产业链) and the productive-service
sectors (生产性服务业) named in the provincial plan (seed text, section 三). Codes are stable
identifiers stored on registered models; names are for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The three kinds of algorithm component the plan asks for."""

    knowledge = "knowledge"
    process = "process"
    mechanism = "mechanism"

    @property
    def zh(self) -> str:
        return _KIND_ZH[self]


_KIND_ZH = {Kind.knowledge: "知识", Kind.process: "工艺", Kind.mechanism: "机理"}


class Visibility(StrEnum):
    """Who may see and call a component."""

    private = "private"  # the owner tenant only
    industry = "industry"  # tenants of the same industry
    public = "public"  # everyone


@dataclass(frozen=True)
class Industry:
    code: str
    zh: str
    en: str
    group: str  # "flagship" chain or "service" sector


INDUSTRIES: tuple[Industry, ...] = (
    Industry("new-generation-it", "新一代信息技术", "New-generation information technology", "flagship"),
    Industry("high-end-equipment", "高端装备", "High-end equipment", "flagship"),
    Industry("new-energy-equipment", "新能源装备", "New-energy equipment", "flagship"),
    Industry("advanced-materials", "先进材料", "Advanced materials", "flagship"),
    Industry("shipbuilding-offshore", "船舶和海工装备", "Shipbuilding and offshore equipment", "flagship"),
    Industry("high-end-chemicals", "高端化工", "High-end chemicals", "flagship"),
    Industry("agricultural-machinery", "农机装备", "Agricultural machinery", "flagship"),
    Industry("pharmaceuticals", "医药", "Pharmaceuticals", "flagship"),
    Industry("construction-machinery", "工程机械", "Construction machinery", "flagship"),
    Industry("light-industry", "轻工", "Light industry", "flagship"),
    Industry("textiles-apparel", "纺织服装", "Textiles and apparel", "flagship"),
    Industry("it-services", "信息技术服务", "Information technology services", "service"),
    Industry("transport", "交通运输", "Transport", "service"),
    Industry("industrial-design", "工业设计", "Industrial design", "service"),
    Industry("architectural-design", "建筑设计", "Architectural design", "service"),
    Industry("finance-insurance", "金融保险", "Finance and insurance", "service"),
    Industry("tech-services", "科技服务", "Science and technology services", "service"),
    Industry("commerce-distribution", "商贸流通", "Commerce and distribution", "service"),
)

INDUSTRY_BY_CODE: dict[str, Industry] = {i.code: i for i in INDUSTRIES}


def industry(code: str) -> Industry:
    """Look an industry up by code; raise ValueError naming the valid codes otherwise."""
    try:
        return INDUSTRY_BY_CODE[code]
    except KeyError:
        raise ValueError(
            f"unknown industry {code!r}; use one of: {', '.join(sorted(INDUSTRY_BY_CODE))}"
        ) from None


def check_industries(codes: list[str]) -> list[str]:
    """The pydantic validator of every ``industries`` field (cards, tenants): known codes, each once."""
    unknown = [c for c in codes if c not in INDUSTRY_BY_CODE]
    if unknown:
        raise ValueError(
            f"unknown industry {', '.join(map(repr, unknown))}; use codes from "
            f"`brain components industries`: {', '.join(sorted(INDUSTRY_BY_CODE))}"
        )
    if len(set(codes)) != len(codes):
        raise ValueError("industries are listed twice")
    return codes
