"""The component card: what a component is, who may use it, and its tensor interface.

A card is what an algorithm developer writes (YAML or JSON) and what enterprises read in the
catalogue. It is stored on the MLflow registered model and on every version (tags for the fields
the catalogue filters on, the whole card as JSON, and a Markdown description the MLflow UI shows).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from model_hub.errors import CardInvalid, HubError
from model_hub.taxonomy import Kind, Visibility, check_industries

SLUG = re.compile(r"^[a-z][a-z0-9_-]{1,62}[a-z0-9]$")

#: The Open Inference Protocol tensor datatypes.
Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]

#: OIP datatype → numpy dtype, the one table of the project. Explicitly little-endian: that is the
#: byte order of binary tensors in the protocol.
NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(np.object_),
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(Strict):
    zh: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)


class TensorSpec(Strict):
    """One input or output tensor. A dimension of -1 is variable (e.g. the batch)."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
    datatype: Datatype
    shape: list[int] = Field(min_length=1, max_length=8)
    description: str = ""
    allow_non_finite: bool = False
    """Whether NaN and ±Inf are acceptable values (refused with 400 otherwise)."""

    @field_validator("shape")
    @classmethod
    def _dims(cls, shape: list[int]) -> list[int]:
        for d in shape:
            if d == 0 or d < -1:
                raise ValueError(f"dimension {d} is invalid: use a positive size, or -1 for a variable one")
        return shape


class Metric(Strict):
    """An evaluation result, with the baseline it was compared against where there is one."""

    name: str = Field(min_length=1)
    value: float
    dataset: str = ""
    baseline: float | None = None
    higher_is_better: bool = True


class Card(Strict):
    """The component card (组件卡片)."""

    name: str
    """Slug: lower-case letters, digits, '-' or '_', 3-64 characters; unique in the registry."""
    display: Names
    kind: Kind
    industries: list[str] = Field(min_length=1)
    task: str = Field(min_length=1, max_length=100)
    owner: str = Field(min_length=1, max_length=200)
    """Owner organisation (the tenant that registered it)."""
    license: str = Field(min_length=1, max_length=100)
    visibility: Visibility = Visibility.private
    intended_use: str = Field(min_length=1)
    out_of_scope_use: str = ""
    limitations: str = ""
    metrics: list[Metric] = Field(default_factory=list)
    standards: list[str] = Field(default_factory=list)
    """Standards the component follows, e.g. "GB/T 32150-2015"."""
    inputs: list[TensorSpec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)
    version_notes: str = ""

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not SLUG.match(name):
            raise ValueError(
                f"{name!r} is not a valid component name: use 3-64 lower-case letters, digits, "
                f"'-' or '_', starting with a letter"
            )
        return name

    _industries = field_validator("industries")(check_industries)

    @field_validator("inputs", "outputs")
    @classmethod
    def _unique_names(cls, specs: list[TensorSpec]) -> list[TensorSpec]:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"tensor names must be unique, got {names}")
        return specs

    # --- conversions -------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Card:
        """Validate user data into a card, turning pydantic's errors into one readable CardInvalid."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise CardInvalid(f"the component card is invalid: {_explain(exc)}") from None

    @classmethod
    def load(cls, path: str | Path) -> Card:
        """Read a card from a YAML or JSON file."""
        return cls.parse(read_mapping(path, "card", CardInvalid, "a mapping of card fields"))

    def to_json(self) -> str:
        return self.model_dump_json()

    def to_markdown(self) -> str:
        """The card as the MLflow UI shows it in the model's description."""
        from model_hub.taxonomy import industry

        lines = [
            f"# {self.display.zh} / {self.display.en}",
            "",
            f"- **Kind 类型**: {self.kind.zh} {self.kind.value}",
            "- **Industries 行业**: "
            + ", ".join(f"{industry(c).zh} {industry(c).en}" for c in self.industries),
            f"- **Task 任务**: {self.task}",
            f"- **Owner 所有者**: {self.owner}",
            f"- **License 许可**: {self.license}",
            f"- **Visibility 可见性**: {self.visibility.value}",
        ]
        if self.standards:
            lines.append(f"- **Standards 标准**: {', '.join(self.standards)}")
        lines += ["", "## Intended use 适用场景", self.intended_use]
        if self.out_of_scope_use:
            lines += ["", "## Out of scope 不适用场景", self.out_of_scope_use]
        if self.limitations:
            lines += ["", "## Limitations 局限", self.limitations]
        if self.metrics:
            lines += [
                "",
                "## Evaluation 评估",
                "",
                "| metric | value | baseline | dataset |",
                "|---|---|---|---|",
            ]
            for m in self.metrics:
                base = "" if m.baseline is None else f"{m.baseline:.4g}"
                lines.append(f"| {m.name} | {m.value:.4g} | {base} | {m.dataset} |")
        lines += ["", "## Interface 接口", "", "| direction | name | datatype | shape |", "|---|---|---|---|"]
        for direction, specs in (("input", self.inputs), ("output", self.outputs)):
            for s in specs:
                lines.append(f"| {direction} | {s.name} | {s.datatype} | {s.shape} |")
        if self.version_notes:
            lines += ["", "## Version notes 版本说明", self.version_notes]
        return "\n".join(lines) + "\n"

    def search_text(self) -> str:
        """Text the catalogue's free-text search runs over."""
        parts = [
            self.name,
            self.display.zh,
            self.display.en,
            self.task,
            self.owner,
            self.intended_use,
            self.limitations,
            " ".join(self.standards),
        ]
        return "\n".join(p for p in parts if p)


def read_mapping(
    path: str | Path, what: str, error: type[HubError], holds: str = "a mapping"
) -> dict[str, Any]:
    """The mapping a ``what`` file (a card, a pipeline spec) holds: JSON by its ``.json`` suffix, else
    YAML; anything else raises ``error`` naming the file and what was wrong."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {what} file {str(p)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise error(f"{what} file {str(p)!r} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{what} file {str(p)!r} must hold {holds}")
    return data


def _explain(exc: ValidationError) -> str:
    msgs = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "card"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; `brain components card-template` prints every field)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        msgs.append(f"{where}: {msg}")
    return "; ".join(msgs)
