"""Component pipelines (组件编排): a small DAG of registered components, declared in YAML, checked
against the steps' cards at registration and stored as a version like any component.

A pipeline spec is a card (every field of `Card` but ``outputs``) plus:

- ``steps``: each a step name, a component, its version (a number or an alias; default
  ``production``) and, for every input tensor of the component's card, where it comes from:
  ``input.NAME`` (an input of the pipeline) or ``STEP.TENSOR`` (an output of another step);
- ``outputs``: the pipeline's outputs, each a name and the ``STEP.TENSOR`` it is (its datatype and
  shape are that tensor's, from the step's card).

`check` validates a spec against the steps' cards (pure: the registry hands it a resolver) and
returns the pipeline's card, whose outputs are derived from the steps'. Every refusal names the
edge or the step at fault, e.g. ``forecast.load_forecast -> carbon.electricity_mwh: FP32[-1,24]
vs FP64[-1,2]``. The spec itself is the version's artifact, ``pipeline.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from model_hub.card import SLUG, Card, Strict, TensorSpec, _explain, read_mapping
from model_hub.errors import PipelineInvalid
from model_hub.taxonomy import Visibility

#: The version format of a pipeline, and the one artifact file it stores.
FORMAT = "pipeline"
SPEC_FILE = "pipeline.json"

#: Enough for the applications in view (forecast → account, quality → recommender) and small enough
#: that a call's steps stay cheap to plan and to meter.
MAX_STEPS = 16

#: The source name of the pipeline's own inputs in a reference (``input.NAME``); no step may take it.
PIPELINE_INPUT = "input"

STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

#: A placeholder for the card's outputs while a spec is parsed: they are derived by `check`.
_DERIVED = [{"name": "derived", "datatype": "BOOL", "shape": [-1]}]

#: Visibility from narrowest to widest.
_RANK = {Visibility.private: 0, Visibility.industry: 1, Visibility.public: 2}


class Step(Strict):
    """One step: a registered component and where each of its inputs comes from."""

    name: str
    component: str
    version: int | str = "production"
    """A version number or an alias (``production``, ``staging``)."""
    inputs: dict[str, str] = Field(default_factory=dict)
    """The component's input tensor → ``input.NAME`` or ``STEP.TENSOR``."""

    @field_validator("name")
    @classmethod
    def _step_name(cls, name: str) -> str:
        if not STEP_NAME.match(name) or name == PIPELINE_INPUT:
            raise ValueError(
                f"step name {name!r} must be 1-32 lower-case letters, digits or '_', starting with a "
                f"letter, and not {PIPELINE_INPUT!r} (that names the pipeline's inputs)"
            )
        return name

    @field_validator("component")
    @classmethod
    def _component(cls, name: str) -> str:
        if not SLUG.match(name):
            raise ValueError(f"{name!r} is not a component name")
        return name

    @field_validator("version")
    @classmethod
    def _version(cls, ref: int | str) -> int | str:
        if isinstance(ref, int) and ref < 1:
            raise ValueError(f"version {ref} must be a positive number or an alias")
        if isinstance(ref, str) and not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", ref):
            raise ValueError(f"version {ref!r} must be a positive number or an alias such as 'production'")
        return ref


class PipelineOutput(Strict):
    """An output of the pipeline: a step's output tensor, under the pipeline's name for it."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
    source: str = Field(alias="from", min_length=3)
    """``STEP.TENSOR``."""
    description: str = ""


class Graph(Strict):
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    outputs: list[PipelineOutput] = Field(min_length=1)


@dataclass(frozen=True)
class Reference:
    """``input.NAME`` or ``STEP.TENSOR``, split at the first dot (tensor names may hold dots)."""

    source: str
    tensor: str

    @classmethod
    def parse(cls, raw: str) -> Reference | None:
        source, dot, tensor = raw.partition(".")
        return cls(source, tensor) if dot and source and tensor else None

    @property
    def from_input(self) -> bool:
        return self.source == PIPELINE_INPUT

    def __str__(self) -> str:
        return f"{self.source}.{self.tensor}"


@dataclass(frozen=True)
class PipelineSpec:
    """A parsed pipeline spec: its card (outputs still to derive) and its graph."""

    card: Card
    graph: Graph
    document: dict[str, Any]
    """The spec as written (what ``pipeline.json`` stores)."""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> PipelineSpec:
        if not isinstance(data, Mapping):
            raise PipelineInvalid("a pipeline spec is a mapping of card fields, `steps` and `outputs`")
        fields = dict(data)
        graph_fields = {k: fields.pop(k) for k in ("steps", "outputs") if k in fields}
        try:
            graph = Graph.model_validate(graph_fields)
        except ValidationError as exc:
            raise PipelineInvalid(f"the pipeline is invalid: {_explain(exc)}") from None
        card = Card.parse({**fields, "outputs": _DERIVED})
        return cls(card, graph, {**fields, **graph.model_dump(mode="json", by_alias=True)})

    @classmethod
    def load(cls, path: str | Path) -> PipelineSpec:
        """Read a spec from a YAML or JSON file."""
        return cls.parse(read_mapping(path, "pipeline", PipelineInvalid))

    @classmethod
    def from_json(cls, text: str) -> PipelineSpec:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PipelineInvalid(f"{SPEC_FILE} is not JSON: {exc}") from None
        return cls.parse(data)

    def with_owner(self, owner: str) -> PipelineSpec:
        """The same spec owned by ``owner`` (the tenant of the registering key)."""
        card = self.card.model_copy(update={"owner": owner})
        return PipelineSpec(card, self.graph, {**self.document, "owner": owner})

    def to_json(self) -> str:
        return json.dumps(self.document, ensure_ascii=False, indent=1, sort_keys=True)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def owner(self) -> str:
        return self.card.owner


Resolve = Callable[[Step], Card | None]
"""The card of a step's component at the step's version, or None when there is none the pipeline's
owner may use (unknown and invisible read the same, so a hidden component is never revealed)."""


def shape_text(spec: TensorSpec) -> str:
    return f"{spec.datatype}[{','.join(str(d) for d in spec.shape)}]"


def compatible(source: TensorSpec, target: TensorSpec) -> bool:
    """Same datatype, same rank, and each dimension equal or -1 (variable) on either side."""
    return (
        source.datatype == target.datatype
        and len(source.shape) == len(target.shape)
        and all(a == b or -1 in (a, b) for a, b in zip(source.shape, target.shape, strict=True))
    )


def order(graph: Graph) -> list[Step]:
    """The steps in an order where every step comes after those it reads from (declaration order
    among independent steps). PipelineInvalid naming a cycle if there is none."""
    names = {s.name for s in graph.steps}
    needs = {
        s.name: {r.source for r in map(Reference.parse, s.inputs.values()) if r and r.source in names}
        for s in graph.steps
    }
    done: list[Step] = []
    placed: set[str] = set()
    while len(done) < len(graph.steps):
        ready = [s for s in graph.steps if s.name not in placed and needs[s.name] <= placed]
        if not ready:
            raise PipelineInvalid(f"the steps form a cycle: {_cycle(needs, placed)}")
        done.append(ready[0])
        placed.add(ready[0].name)
    return done


def _cycle(needs: dict[str, set[str]], placed: set[str]) -> str:
    """One cycle among the steps not placed, as ``a -> b -> a`` (data flows left to right)."""
    start = next(n for n in needs if n not in placed)
    path = [start]
    while True:
        following = sorted(needs[path[-1]] - placed)[0]
        if following in path:
            loop = [*path[path.index(following) :], following]
            return " -> ".join(reversed(loop))
        path.append(following)


def check(spec: PipelineSpec, resolve: Resolve) -> Card:
    """Validate ``spec`` against its steps' cards; the pipeline's card (outputs derived).

    PipelineInvalid lists every fault found, each naming its step or edge: an unknown step,
    component or tensor, an unconnected input, a datatype or shape mismatch, a cycle, an unused
    pipeline input, or a visibility wider than a step's.
    """
    graph, card = spec.graph, spec.card
    errors: list[str] = []
    names = [s.name for s in graph.steps]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PipelineInvalid(f"step names must be unique: {', '.join(twice)} appear more than once")
    parts: dict[str, Card] = {}
    for step in graph.steps:
        part = resolve(step)
        if part is None:
            errors.append(
                f"step {step.name!r}: no component {step.component!r} version {step.version} that "
                f"{card.owner!r} may use (`brain components list` shows them)"
            )
        else:
            parts[step.name] = part
    inputs = {s.name: s for s in card.inputs}
    used: set[str] = set()

    def source_spec(ref: Reference, edge: str) -> TensorSpec | None:
        if ref.from_input:
            found = inputs.get(ref.tensor)
            if found is None:
                errors.append(f"{edge}: the pipeline has no input {ref.tensor!r} (declare it in `inputs`)")
            used.add(ref.tensor)
            return found
        if ref.source not in names:
            errors.append(f"{edge}: there is no step {ref.source!r}")
            return None
        part = parts.get(ref.source)
        if part is None:
            return None  # already reported
        found = next((o for o in part.outputs if o.name == ref.tensor), None)
        if found is None:
            errors.append(
                f"{edge}: step {ref.source!r} ({part.name}) has no output {ref.tensor!r}; "
                f"its outputs are {[o.name for o in part.outputs]}"
            )
        return found

    for step in graph.steps:
        part = parts.get(step.name)
        if part is None:
            continue
        wanted = {s.name: s for s in part.inputs}
        for target, raw in step.inputs.items():
            edge = f"{raw} -> {step.name}.{target}"
            if target not in wanted:
                errors.append(f"{edge}: {part.name} has no input {target!r}; its inputs are {list(wanted)}")
                continue
            ref = Reference.parse(raw)
            if ref is None:
                errors.append(f"{edge}: a source is `input.NAME` or `STEP.TENSOR`")
                continue
            if ref.source == step.name:
                errors.append(f"{edge}: a step cannot read its own output (a cycle)")
                continue
            found = source_spec(ref, edge)
            if found is not None and not compatible(found, wanted[target]):
                errors.append(f"{edge}: {shape_text(found)} vs {shape_text(wanted[target])}")
        for missing in (n for n in wanted if n not in step.inputs):
            errors.append(
                f"{step.name}.{missing}: required input of {part.name} is not connected; give it a "
                f"source (`input.NAME` or `STEP.TENSOR`) under the step's `inputs`"
            )
    for unused in (n for n in inputs if n not in used):
        errors.append(f"input.{unused}: the pipeline input feeds no step; connect it or remove it")
    outputs: list[TensorSpec] = []
    for out in graph.outputs:
        ref = Reference.parse(out.source)
        edge = f"{out.source} -> output {out.name}"
        if ref is None or ref.from_input:
            errors.append(f"{edge}: an output is a step's output, `STEP.TENSOR`")
            continue
        found = source_spec(ref, edge)
        if found is not None:
            outputs.append(
                TensorSpec(
                    name=out.name,
                    datatype=found.datatype,
                    shape=found.shape,
                    description=out.description or found.description,
                    allow_non_finite=found.allow_non_finite,
                )
            )
    out_names = [o.name for o in graph.outputs]
    if len(set(out_names)) != len(out_names):
        errors.append(f"output names must be unique, got {out_names}")
    errors += _visibility(card, {s.name: parts[s.name] for s in graph.steps if s.name in parts})
    if not errors:
        try:
            order(graph)
        except PipelineInvalid as exc:
            errors.append(exc.message)
    if errors:
        raise PipelineInvalid(f"pipeline {card.name!r} is invalid: " + "; ".join(errors))
    return card.model_copy(update={"outputs": outputs})


def _visibility(card: Card, parts: Mapping[str, Card]) -> list[str]:
    """A pipeline may be seen by no one who cannot see each of its steps: its visibility is at most
    the narrowest step's, and an industry pipeline names only industries every industry step has."""
    errors = []
    for step, part in parts.items():
        if _RANK[card.visibility] > _RANK[part.visibility]:
            errors.append(
                f"step {step!r}: the pipeline is {card.visibility.value} but {part.name} is "
                f"{part.visibility.value}; a pipeline is at most as visible as its narrowest step"
            )
        elif card.visibility is Visibility.industry and part.visibility is Visibility.industry:
            wider = sorted(set(card.industries) - set(part.industries))
            if wider:
                errors.append(
                    f"step {step!r}: the pipeline is visible to industries {wider} that "
                    f"{part.name} is not; list only industries of its industry-visible steps"
                )
        if part.visibility is Visibility.private and part.owner != card.owner:
            errors.append(f"step {step!r}: {part.name} is private to another tenant")
    return errors
