"""The 16 prefecture-level cities of Shandong, where tenants and data centres are."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    code: str
    zh: str
    en: str


# Laiwu was merged into Jinan in 2019, which is why there are 16 and not 17.
CITIES: tuple[City, ...] = (
    City("jinan", "济南", "Jinan"),
    City("qingdao", "青岛", "Qingdao"),
    City("zibo", "淄博", "Zibo"),
    City("zaozhuang", "枣庄", "Zaozhuang"),
    City("dongying", "东营", "Dongying"),
    City("yantai", "烟台", "Yantai"),
    City("weifang", "潍坊", "Weifang"),
    City("jining", "济宁", "Jining"),
    City("taian", "泰安", "Tai'an"),
    City("weihai", "威海", "Weihai"),
    City("rizhao", "日照", "Rizhao"),
    City("linyi", "临沂", "Linyi"),
    City("dezhou", "德州", "Dezhou"),
    City("liaocheng", "聊城", "Liaocheng"),
    City("binzhou", "滨州", "Binzhou"),
    City("heze", "菏泽", "Heze"),
)

CITY_BY_CODE: dict[str, City] = {c.code: c for c in CITIES}
