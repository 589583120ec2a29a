"""The calendar of metering: days and months of China Standard Time (UTC+8), the assessment's calendar."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from deploy.centre.errors import BadRequest

PLATFORM_TZ = timezone(timedelta(hours=8), "CST")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def day_of(moment: datetime) -> date:
    return _calendar(moment)[0]


def month_of(moment: datetime) -> str:
    return _calendar(moment)[1]


_hour: tuple[int, date, str] = (-1, date.min, "")


def _calendar(moment: datetime) -> tuple[date, str]:
    """The platform day and month of ``moment``, remembered for its hour.

    Every inference asks twice; converting time zones and formatting cost more than the rest of the
    metering. The offset is a whole number of hours, so all moments of one UTC hour share both.
    """
    global _hour
    hour = int(moment.timestamp()) // 3600
    cached = _hour  # one tuple, rebound atomically: a reader never sees half an update
    if cached[0] == hour:
        return cached[1], cached[2]
    local = moment.astimezone(PLATFORM_TZ)
    day, month = local.date(), local.strftime("%Y-%m")
    _hour = (hour, day, month)
    return day, month


def month_days(month: str) -> tuple[date, date]:
    """First day of ``month`` ("2026-11") and first day of the next; BadRequest for anything else."""
    match = MONTH.match(month)
    if not match:
        raise BadRequest(f"month {month!r} is not of the form YYYY-MM, e.g. 2026-11")
    year, number = int(match[1]), int(match[2])
    first = date(year, number, 1)
    following = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return first, following


def next_month_start(moment: datetime) -> datetime:
    _, following = month_days(month_of(moment))
    return datetime(following.year, following.month, 1, tzinfo=PLATFORM_TZ)
