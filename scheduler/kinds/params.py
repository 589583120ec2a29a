"""The built-in job kinds: what a user writes for each (pydantic, unknown fields refused) and the
command the scheduler turns it into.

A job of kind ``entrypoint`` runs the user's own command. The other kinds run a program of the
platform with the job's parameters as one JSON argument:

- ``training``: fit a component (a trainable one on a CSV/Parquet file or on its synthetic generator,
  any other by its own training on its generated data) and register the result as a new version with
  the job id as lineage;
- ``batch-inference``: run a registered component version over a CSV/Parquet table, writing Parquet
  plus a summary;
- ``governance``: a data-cleaning pipeline for industrial data — schema, units, ranges, nulls,
  de-duplication — that writes the clean rows and a quality report.

This module is the language of the kinds: their parameters, validated at submission. The programs
that run them are not the scheduler's: whoever composes the platform registers one module per kind in
`SchedulerSettings.job_programs`, and a kind with no program is refused at submission.

Each kind's workers get the job's bundles: Ray Train runs one worker per bundle, Ray Data is
limited to their sum (`scheduler.kinds.runtime`). The driver itself reserves nothing, so what the job
holds on Ray is exactly what the policy accounted for.
"""

from __future__ import annotations

import json
import shlex
from pathlib import PurePath
from typing import Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal["entrypoint", "training", "batch-inference", "governance"]

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


M = TypeVar("M", bound=BaseModel)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def table_format(path: str, given: str | None) -> Literal["csv", "parquet"]:
    """The format of a table path: given, or from its suffix."""
    if given is not None:
        return "csv" if given == "csv" else "parquet"
    found = _FORMATS.get(PurePath(path).suffix.lower())
    if found is None:
        raise ValueError(
            f"cannot tell the format of {path!r} from its name; name it .csv or .parquet, or set "
            "format: csv | parquet"
        )
    return "csv" if found == "csv" else "parquet"


class TableSource(_Params):
    """A CSV or Parquet file (or a folder of them) every node of the pool can read."""

    path: str = Field(min_length=1, description="file or folder, on storage every node of the pool sees")
    format: Literal["csv", "parquet"] | None = Field(default=None, description="default: from the suffix")

    @model_validator(mode="after")
    def _format_known(self) -> Self:
        table_format(self.path, self.format)
        return self

    @property
    def resolved_format(self) -> Literal["csv", "parquet"]:
        return table_format(self.path, self.format)


class SyntheticSource(_Params):
    """The component's own synthetic data generator."""

    rows: int = Field(default=2000, ge=10, le=10_000_000)
    seed: int = Field(default=0, ge=0)


class TrainingData(_Params):
    """Exactly one of a table or the component's synthetic generator."""

    table: TableSource | None = None
    synthetic: SyntheticSource | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.table is None) == (self.synthetic is None):
            raise ValueError(
                "give exactly one data source: table: {path: FILE} or synthetic: {rows: N, seed: S}"
            )
        return self


class TrainingParams(_Params):
    """Trains a built-in component: Ray Train fits a trainable torch model, one worker per bundle of the
    job; any other built-in trains itself on its generated data (a synthetic source only)."""

    component: str = Field(
        min_length=1,
        description="built-in component; a table source needs one with a trainable torch model",
    )
    data: TrainingData
    epochs: int = Field(default=5, ge=1, le=10_000)
    batch_size: int = Field(default=64, ge=1, le=1_000_000)
    learning_rate: float = Field(default=3e-3, gt=0, le=1)
    # Named `register` in the spec; the attribute differs because BaseModel's metaclass has a `register`.
    register_version: bool = Field(
        default=True,
        alias="register",
        description="register the result in the model hub as a new version (job id as lineage)",
    )
    output: str | None = Field(default=None, description="folder for the run's summary JSON and checkpoints")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BatchInferenceParams(_Params):
    """Ray Data runs a registered ONNX component version over a table."""

    component: str = Field(min_length=1)
    version: int | str | None = Field(default=None, description="number or alias; default production")
    input: TableSource
    output: str = Field(min_length=1, description="folder for the Parquet output and _summary.json")
    columns: dict[str, str | list[str]] = Field(
        min_length=1,
        description="card input name → one column (a [-1] tensor) or a list of columns (a [-1, k] tensor)",
    )
    keep: list[str] = Field(default_factory=list, description="input columns copied to the output (ids)")
    batch_size: int = Field(default=1024, ge=1, le=1_000_000)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for name, cols in value.items():
            if isinstance(cols, list) and not cols:
                raise ValueError(f"columns.{name} is an empty list; name the table columns of this input")
        return value


ColumnType = Literal["float", "int", "string", "bool", "timestamp"]


class UnitRule(_Params):
    """Convert a column to one unit, from a fixed unit or from a per-row unit column."""

    column: str = Field(min_length=1)
    to: str = Field(min_length=1, description="target unit, e.g. degC, kPa, kW, kWh")
    unit: str | None = Field(default=None, description="the unit every value is in")
    unit_column: str | None = Field(default=None, description="a column naming each row's unit")

    @model_validator(mode="after")
    def _known(self) -> Self:
        from scheduler.kinds.units import convertible

        if (self.unit is None) == (self.unit_column is None):
            raise ValueError(f"units for {self.column}: give exactly one of unit or unit_column")
        problem = convertible(self.unit or self.to, self.to)
        if problem:
            raise ValueError(f"units for {self.column}: {problem}")
        return self


class RangeRule(_Params):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min:g} is above max {self.max:g}")
        return self


class GovernanceParams(_Params):
    """A Ray Data cleaning pipeline with a per-rule quality report.

    Rules run in this order, and a row is counted under the first rule that drops it: ``schema`` (a
    value that does not parse as its column's type), ``null`` (a schema column still empty after
    ``fill``), ``unit`` (a unit the conversion does not know), ``range:<column>``, then ``duplicate``
    (same ``dedupe_on`` key as a kept row).
    """

    input: TableSource
    output: str = Field(min_length=1, description="folder for the clean Parquet and _report.json")
    schema_: dict[str, ColumnType] = Field(
        alias="schema", min_length=1, description="columns the data must have, with their types"
    )
    fill: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="value for empty cells of a column, instead of dropping the row"
    )
    units: list[UnitRule] = Field(default_factory=list)
    ranges: dict[str, RangeRule] = Field(default_factory=dict)
    dedupe_on: list[str] = Field(default_factory=list, description="key columns; one row per key is kept")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _columns_declared(self) -> Self:
        declared = set(self.schema_)
        named = [
            *(f"fill.{c}" for c in self.fill if c not in declared),
            *(f"units[{u.column}]" for u in self.units if u.column not in declared),
            *(f"ranges.{c}" for c in self.ranges if c not in declared),
            *(f"dedupe_on[{c}]" for c in self.dedupe_on if c not in declared),
        ]
        if named:
            raise ValueError(
                f"{', '.join(named)}: not a column of schema; declare every column a rule uses "
                f"(schema has {', '.join(sorted(declared))})"
            )
        for rule in self.units:
            if self.schema_[rule.column] not in ("float", "int"):
                raise ValueError(
                    f"units for {rule.column}: the column is {self.schema_[rule.column]}, not numeric"
                )
        for column in self.ranges:
            if self.schema_[column] not in ("float", "int"):
                raise ValueError(f"ranges.{column}: the column is {self.schema_[column]}, not numeric")
        return self


KindParams = TrainingParams | BatchInferenceParams | GovernanceParams
SECTIONS: dict[str, str] = {
    "training": "training",
    "batch-inference": "batch_inference",
    "governance": "governance",
}
"""The field of the job spec that holds each kind's parameters."""


def program_command(program: str, params: KindParams, job_id: str, python: str) -> str:
    """The shell command that runs a built-in kind: ``python -m PROGRAM --job-id ID --params JSON``."""
    body = params.model_dump_json(by_alias=True, exclude_none=True)
    argv = [python, "-m", program, "--job-id", job_id, "--params", body]
    return shlex.join(argv)


def parse_params(model: type[M], text: str) -> M:
    """A program's parameters from its --params argument (validated again: it may be run by hand)."""
    return model.model_validate(json.loads(text))
