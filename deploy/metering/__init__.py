"""Usage metering for the yearly assessment and subsidies: calls, errors, rows and latency per tenant ×
component × version × day.

Counting on the request's hot path touches memory only (:meth:`Meter.record`). A :class:`UsageFlusher`
thread writes the counters to the database every few seconds, so a crash loses at most that much.

Each :class:`Meter` is a *source* (one per gateway replica and process start). It keeps cumulative
counts and writes them as absolute values into its own rows, keyed by (day, tenant, component,
version, source). The upsert therefore sets values instead of adding to them: writing the same
counts twice, or retrying after a commit whose acknowledgement was lost, changes nothing. Reports sum
over sources.

Days and months are those of China Standard Time (UTC+8), the calendar the assessment is made in.

Modules: `calendar` (days and months), `schema` (the table and its upsert), `meter` (the hot path),
`flusher` (the background writer), `report` (sums for `brain usage report` and the API). May import
`deploy.db` and `deploy.centre.errors`; nothing imports it but the centre, the CLI and the migrations.
"""

from deploy.metering.calendar import PLATFORM_TZ, day_of, month_days, month_of, next_month_start
from deploy.metering.flusher import UsageFlusher
from deploy.metering.meter import Counts, Meter, UsageKey
from deploy.metering.report import USAGE_COLUMNS, UsageLine, render_usage, usage_report
from deploy.metering.schema import UsageRow

__all__ = [
    "PLATFORM_TZ",
    "USAGE_COLUMNS",
    "Counts",
    "Meter",
    "UsageFlusher",
    "UsageKey",
    "UsageLine",
    "UsageRow",
    "day_of",
    "month_days",
    "month_of",
    "next_month_start",
    "render_usage",
    "usage_report",
]
