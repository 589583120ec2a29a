"""Data governance on Ray Data: ``python -m deploy.jobs.governance --params JSON [--job-id ID]``.

Reads a CSV/Parquet table, checks every row against the rules of `GovernanceParams` (schema, fill,
nulls, units, ranges, then de-duplication on key columns), writes the clean rows as Parquet to
``output`` and a quality report to ``output/_report.json``: rows in, rows out, and rows dropped per
rule (a row counts under the first rule it breaks). Pyarrow-based readers skip ``_``-files, so the
report does not pollute the dataset.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

from scheduler.kinds.params import GovernanceParams
from scheduler.kinds.runtime import JobResources, read_table, run_program, write_json
from scheduler.kinds.units import factors

RULE = "_brain_rule"
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class MissingColumns(ValueError):
    pass


def _cast(values: pd.Series, kind: str) -> pd.Series:
    if kind in ("float", "int"):
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "bool":
        text = values.astype("string").str.strip().str.lower()
        return text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None).astype("boolean")
    if kind == "timestamp":
        return pd.to_datetime(values, errors="coerce", utc=True)
    return values.astype("string")


def mark(batch: pd.DataFrame, params: GovernanceParams) -> pd.DataFrame:
    """The batch's schema columns, cast and converted, with the first rule each row breaks ("" if none)."""
    missing = [c for c in params.schema_ if c not in batch.columns]
    missing += [u.unit_column for u in params.units if u.unit_column and u.unit_column not in batch.columns]
    if missing:
        raise MissingColumns(
            f"the input has no column {', '.join(map(repr, missing))}; it has {', '.join(batch.columns)}"
        )
    rule = np.full(len(batch), "", dtype=object)

    def breaks(name: str, bad: Any) -> None:
        bad = np.asarray(bad, dtype=bool) & (rule == "")
        rule[bad] = name

    out = pd.DataFrame(index=batch.index)
    for column, kind in params.schema_.items():
        raw = batch[column]
        cast = _cast(raw, kind)
        breaks("schema", raw.notna().to_numpy() & cast.isna().to_numpy())
        if column in params.fill:
            cast = cast.fillna(params.fill[column])
        out[column] = cast
    breaks("null", out.isna().any(axis=1).to_numpy())
    for unit in params.units:
        values = out[unit.column].to_numpy(dtype="float64", na_value=np.nan)
        units = (
            batch[unit.unit_column].astype("string").str.strip().to_numpy(dtype=object, na_value=None)
            if unit.unit_column
            else np.full(len(batch), unit.unit, dtype=object)
        )
        converted = np.full(len(batch), np.nan)
        for source in {u for u in units if u is not None}:
            rows = units == source
            try:
                scale, offset = factors(str(source), unit.to)
            except KeyError:
                continue
            converted[rows] = values[rows] * scale + offset
        breaks("unit", np.isnan(converted) & ~np.isnan(values))
        out[unit.column] = converted
    for column, limits in params.ranges.items():
        values = out[column].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.zeros(len(batch), dtype=bool)
        if limits.min is not None:
            bad |= values < limits.min
        if limits.max is not None:
            bad |= values > limits.max
        breaks(f"range:{column}", bad)
    out[RULE] = rule.astype(str)
    return out.reset_index(drop=True)


def _kept(batch: pd.DataFrame, params: GovernanceParams) -> pd.DataFrame:
    clean = batch[batch[RULE] == ""].drop(columns=[RULE])
    for column, kind in params.schema_.items():
        if kind == "int":
            clean[column] = clean[column].astype("int64")
    return clean


def run(params: GovernanceParams, job_id: str | None, resources: JobResources) -> dict[str, Any]:
    started = time.perf_counter()
    resources.limit_ray_data()
    args = resources.remote_args()
    source = read_table(params.input.path, params.input.resolved_format, resources)
    marked = source.map_batches(
        mark, fn_kwargs={"params": params}, batch_format="pandas", **args
    ).materialize()
    rows_in = marked.count()
    dropped: dict[str, int] = {}
    for row in marked.groupby(RULE).count().take_all():
        if row[RULE]:
            dropped[str(row[RULE])] = int(row["count()"])
    clean = marked.map_batches(_kept, fn_kwargs={"params": params}, batch_format="pandas", **args)
    if params.dedupe_on:
        before = clean.materialize()
        clean = before.groupby(params.dedupe_on).map_groups(
            lambda group: group.head(1), batch_format="pandas", **args
        )
        clean = clean.materialize()
        duplicates = before.count() - clean.count()
        if duplicates:
            dropped["duplicate"] = duplicates
    clean = clean.materialize()
    rows_out = clean.count()
    clean.write_parquet(params.output, ray_remote_args=args)
    report = {
        "job_id": job_id,
        "input": params.input.path,
        "output": params.output,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "dropped": dict(sorted(dropped.items())),
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json(os.path.join(params.output, "_report.json"), report)
    return report


def main() -> int:
    return run_program("deploy.jobs.governance", GovernanceParams, run)


if __name__ == "__main__":
    raise SystemExit(main())
