"""Synthetic hourly electricity load of Shandong enterprises and parks for 2024 and 2025.

Assumptions (nothing here is metered data):
- Four site types: a one-shift workshop (08–17, Monday–Friday), a two-shift plant (06–22, Monday–Saturday),
  a three-shift continuous process (24 h, 7 days, dips at the 06/14/22 shift changes) and an industrial park
  (office hours plus light industry, weekends at 40 %). Peak demand is 0.5–5 MW; baseload (lighting,
  compressors, servers, continuous processes) is 20–60 % of peak by site type.
- The official calendars of the State Council (国务院办公厅关于2024年/2025年部分节假日安排的通知): public
  holidays are rest days, and the make-up working days (调休上班) on weekends are working days.
- Around the Spring Festival, factories that do not run continuously stop for about two weeks (from four days
  before the festival to eleven days after) and ramp back up over the following week; continuous processes
  run at 70 % on official holidays.
- Temperature follows a Jinan-like annual cycle (mean 14.5 °C, ±15 °C) with a ±4 °C daily swing and
  weather noise; air conditioning adds load above 24 °C and heating below 8 °C, mostly while people work.
- Load grows 5 % a year; multiplicative noise is AR(1) hourly (3 %) plus a daily level shock (2 %).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

FIRST_DAY, LAST_DAY = "2024-01-01", "2025-12-31"
HISTORY_DAYS = 7
HOURS = 24

HOLIDAYS = [
    ("2024-01-01", "2024-01-01"),  # 元旦
    ("2024-02-10", "2024-02-17"),  # 春节
    ("2024-04-04", "2024-04-06"),  # 清明节
    ("2024-05-01", "2024-05-05"),  # 劳动节
    ("2024-06-08", "2024-06-10"),  # 端午节
    ("2024-09-15", "2024-09-17"),  # 中秋节
    ("2024-10-01", "2024-10-07"),  # 国庆节
    ("2025-01-01", "2025-01-01"),  # 元旦
    ("2025-01-28", "2025-02-04"),  # 春节
    ("2025-04-04", "2025-04-06"),  # 清明节
    ("2025-05-01", "2025-05-05"),  # 劳动节
    ("2025-05-31", "2025-06-02"),  # 端午节
    ("2025-10-01", "2025-10-08"),  # 国庆节、中秋节
]
MAKEUP_WORKDAYS = [
    *("2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14", "2024-09-29"),
    *("2024-10-12", "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"),
]
SPRING_FESTIVALS = ["2024-02-10", "2025-01-29"]

#: Day kinds, the values of the `day_kind` input.
WEEKDAY, SATURDAY, SUNDAY, HOLIDAY, MAKEUP_WORKDAY = range(5)
DAY_KINDS = ("weekday", "saturday", "sunday", "public_holiday", "makeup_workday")
SITE_TYPES = ("one_shift", "two_shift", "three_shift", "park")


def _dates(start: str, end: str) -> list[dt.date]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def day_kind(day: dt.date) -> int:
    """The kind of a 2024 or 2025 day under the official calendar."""
    if any(day in _dates(a, b) for a, b in HOLIDAYS):
        return HOLIDAY
    if day.isoformat() in MAKEUP_WORKDAYS:
        return MAKEUP_WORKDAY
    return {5: SATURDAY, 6: SUNDAY}.get(day.weekday(), WEEKDAY)


def day_index(day: str) -> int:
    """Index of an ISO date in the generated series."""
    return (dt.date.fromisoformat(day) - dt.date.fromisoformat(FIRST_DAY)).days


def _works(site: str, kind: int) -> float:
    """How much of a normal day's production a site runs on a day of this kind."""
    table = {
        "one_shift": (1.0, 0.0, 0.0, 0.0, 1.0),
        "two_shift": (1.0, 1.0, 0.0, 0.0, 1.0),
        "three_shift": (1.0, 0.95, 0.9, 0.7, 1.0),
        "park": (1.0, 0.4, 0.4, 0.3, 1.0),
    }
    return table[site][kind]


def _shape(site: str) -> np.ndarray:
    """Production profile over the 24 hours of a working day, 0..1."""
    hours = np.arange(HOURS)
    if site == "one_shift":
        return ((hours >= 8) & (hours < 17)).astype(float) * np.where(hours == 12, 0.6, 1.0)
    if site == "two_shift":
        return ((hours >= 6) & (hours < 22)).astype(float) * np.where(np.isin(hours, [11, 17]), 0.8, 1.0)
    if site == "three_shift":
        return np.where(np.isin(hours, [6, 14, 22]), 0.85, 1.0)
    return np.clip(np.sin(np.pi * (hours - 7) / 12), 0, None) ** 0.7  # park: office-hours hump


def _spring_festival_factor(day: dt.date) -> float:
    """Share of production a non-continuous factory runs around the Spring Festival (1 outside it)."""
    for festival in SPRING_FESTIVALS:
        offset = (day - dt.date.fromisoformat(festival)).days
        if -4 <= offset <= 11:
            return 0.0
        if 11 < offset <= 18:
            return 0.5 + 0.5 * (offset - 11) / 7  # staff return over a week
    return 1.0


@dataclass
class Site:
    kind: str
    peak_kw: float
    baseload: float  # share of peak
    load_kw: np.ndarray  # [days, 24]


def generate(n_sites: int, seed: int = 0) -> tuple[list[Site], np.ndarray]:
    """`n_sites` sites from FIRST_DAY to LAST_DAY (site types in rotation) and the day kind of every day."""
    rng = np.random.default_rng(seed)
    days = _dates(FIRST_DAY, LAST_DAY)
    kinds = np.array([day_kind(d) for d in days])
    festival = [_spring_festival_factor(d) for d in days]
    doy = np.arange(len(days))
    hours = np.arange(HOURS)
    sites = []
    for s in range(n_sites):
        kind = SITE_TYPES[s % len(SITE_TYPES)]
        peak = float(rng.uniform(500.0, 5000.0))
        baseload = {"one_shift": 0.2, "two_shift": 0.25, "three_shift": 0.6, "park": 0.3}[kind]
        baseload *= float(rng.uniform(0.8, 1.2))
        weather = np.zeros(len(days))
        for i in range(1, len(days)):
            weather[i] = 0.7 * weather[i - 1] + rng.normal(0.0, 2.0)
        temperature = (14.5 - 15.0 * np.cos(2 * np.pi * (doy - 15) / 365.25) + weather)[
            :, None
        ] + 4.0 * np.sin(2 * np.pi * (hours - 9) / 24)[None, :]
        hvac = 0.012 * np.clip(temperature - 24.0, 0, None) + 0.008 * np.clip(8.0 - temperature, 0, None)
        load = np.zeros((len(days), HOURS))
        for i in range(len(days)):
            production = _works(kind, int(kinds[i]))
            if kind != "three_shift":
                production *= festival[i]
            occupancy = 0.3 + 0.7 * production * _shape(kind)
            load[i] = baseload + (1 - baseload) * production * _shape(kind) + hvac[i] * occupancy
        noise = np.zeros(load.size)
        for t in range(1, load.size):
            noise[t] = 0.8 * noise[t - 1] + rng.normal(0.0, 0.03 * np.sqrt(1 - 0.8**2))
        daily_shock = rng.normal(0.0, 0.02, (len(days), 1))
        growth = 1.0 + 0.05 * doy[:, None] / 365.25
        load_kw = peak * load * growth * (1 + noise.reshape(load.shape) + daily_shock)
        sites.append(Site(kind, peak, baseload, load_kw.astype(np.float32)))
    return sites, kinds


def windows(sites: list[Site], kinds: np.ndarray, first_day: int, last_day: int) -> dict[str, np.ndarray]:
    """Forecasting samples whose target day lies in [first_day, last_day] (day-of-year indices from 0).

    Each sample: the 168 hourly loads of the 7 days before the target day (oldest first, ending at
    midnight), the kinds of those 7 days and of the target day, and the target day's 24 hourly loads.
    """
    history, day_kinds, target = [], [], []
    for site in sites:
        for d in range(max(first_day, HISTORY_DAYS), last_day + 1):
            history.append(site.load_kw[d - HISTORY_DAYS : d].reshape(-1))
            day_kinds.append(kinds[d - HISTORY_DAYS : d + 1])
            target.append(site.load_kw[d])
    return {
        "load_history": np.array(history, dtype=np.float32),
        "day_kind": np.array(day_kinds, dtype=np.int64),
        "target": np.array(target, dtype=np.float32),
    }
