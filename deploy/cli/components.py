"""`brain components …`: register, find, version and export algorithm components.

Given a platform URL and key (`--url`/`--key`, BRAIN_URL/BRAIN_API_KEY, or a profile file), the
commands go through the capability centre's registry API, as the key's tenant: models are converted
here and uploaded as ONNX, torch JSON + safetensors, or a formula's JSON. Without them they work on
the local registry directly (MLflow), which is for the operator of an embedded install.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from pydantic import ValidationError
from rich.table import Table

from deploy.centre.registry_client import DEFAULT_PROFILE, Profile, RegistryClient
from deploy.cli._common import JsonOpt, console, emit_json, fail
from deploy.settings import scheduler_settings
from model_hub import (
    INDUSTRIES,
    Card,
    CardInvalid,
    Kind,
    Lineage,
    Query,
    Registry,
    ServingPolicy,
    Version,
    Visibility,
    convert,
)
from model_hub.card import read_mapping
from model_hub.errors import PipelineInvalid
from model_hub.pipeline import PipelineSpec
from scheduler.control import one_line

app = typer.Typer(help="Register, find, version and export algorithm components (知识/工艺/机理).")

#: The platform this invocation talks to, set by the group's options (None: the local registry).
_platform: dict[str, RegistryClient | None] = {"client": None}


@app.callback()
def _connect(
    url: Annotated[
        str | None, typer.Option("--url", envvar="BRAIN_URL", help="The platform's capability centre URL.")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", envvar="BRAIN_API_KEY", help="An API key of your tenant.")
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(
            envvar="BRAIN_PROFILE",
            help=f"A YAML file with `url:` and `key:` (default {DEFAULT_PROFILE} when it exists).",
        ),
    ] = None,
) -> None:
    """Through the platform's registry API when a URL and key are known; else the local registry."""
    if profile is None and DEFAULT_PROFILE.expanduser().is_file() and not (url and key):
        profile = DEFAULT_PROFILE
    if profile is not None and not (url and key):
        found = Profile.read(profile)
        url, key = url or found.url, key or found.key
    if bool(url) != bool(key):
        fail("give both a platform URL and a key (--url/--key, BRAIN_URL/BRAIN_API_KEY), or neither")
    _platform["client"] = RegistryClient(url, key) if url and key else None


def _remote() -> RegistryClient | None:
    return _platform["client"]


def _registry() -> Registry:
    return Registry()


def _version_row(v: Version) -> dict[str, Any]:
    return v.as_dict()


def _torch_module(factory: str, config: str | None, weights: Path | None) -> tuple[Any, dict[str, Any]]:
    """The developer's torch module: built by ``factory`` with the ``--config`` JSON, its state loaded from
    ``weights`` (tensors only: `weights_only`); and the factory's keyword arguments."""
    import torch

    kwargs = _json_object(config, "--config") if config else {}
    module = _import(factory)(**kwargs)
    if weights is not None:
        module.load_state_dict(torch.load(weights, weights_only=True))
    return module, kwargs


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        fail(f"{path!r} must look like 'package.module:name'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        fail(f"cannot import {path!r}: {exc}")


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option} is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail(f"{option} must be a JSON object of keyword arguments, got {type(value).__name__}")
    return value


@app.command()
def register(
    card: Annotated[Path | None, typer.Option(help="The component card, YAML or JSON.")] = None,
    pipeline_file: Annotated[
        Path | None,
        typer.Option(
            "--pipeline",
            help="A pipeline's spec, YAML or JSON (its card, inputs, steps and outputs; no --card).",
        ),
    ] = None,
    onnx_file: Annotated[Path | None, typer.Option("--onnx", help="An ONNX model file.")] = None,
    torch_factory: Annotated[
        str | None, typer.Option("--torch", help="'pkg.module:factory' returning a torch nn.Module.")
    ] = None,
    weights: Annotated[
        Path | None, typer.Option(help="A state_dict for --torch, loaded with weights_only=True.")
    ] = None,
    keep_torch: Annotated[
        bool,
        typer.Option(
            "--keep-torch",
            help="Serve --torch in torch instead of converting to ONNX (for models ONNX cannot express); "
            "the factory must be in an allowed package; weights are stored as safetensors.",
        ),
    ] = False,
    config: Annotated[
        str | None, typer.Option(help="JSON keyword arguments for the --torch factory (with --keep-torch).")
    ] = None,
    sklearn_file: Annotated[
        Path | None,
        typer.Option(
            "--sklearn", help="Your own fitted scikit-learn estimator (joblib/pickle); converted to ONNX."
        ),
    ] = None,
    formula: Annotated[
        str | None, typer.Option(help="'pkg.module:function' of a formula (mechanism) component.")
    ] = None,
    params: Annotated[Path | None, typer.Option(help="JSON parameters of the formula.")] = None,
    pickle_file: Annotated[
        Path | None, typer.Option("--file", help="A pickle-based model file, stored as-is (private only).")
    ] = None,
    new_version: Annotated[bool, typer.Option(help="Add a version to an existing component.")] = False,
    promote: Annotated[
        str | None, typer.Option(help="Then point this alias (staging/production) at it.")
    ] = None,
    training_job: Annotated[str | None, typer.Option(help="Lineage: the training job id.")] = None,
    data_snapshot: Annotated[str | None, typer.Option(help="Lineage: the data snapshot id.")] = None,
    git_commit: Annotated[str | None, typer.Option(help="Lineage: the git commit of the code.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a component from an ONNX file, a torch module, a scikit-learn model or a formula; or
    a pipeline of registered components (--pipeline)."""
    sources = [x for x in (onnx_file, torch_factory, sklearn_file, formula, pickle_file) if x is not None]
    lineage = Lineage(training_job=training_job, data_snapshot=data_snapshot, git_commit=git_commit)
    if pipeline_file is not None:
        if sources or card is not None:
            fail("--pipeline takes the whole spec (card included): give no --card and no model")
        _register_pipeline(pipeline_file, lineage, new_version, promote, as_json)
        return
    if card is None:
        fail("give --card with a model (--onnx, --torch, --sklearn, --formula or --file), or --pipeline")
    if len(sources) != 1:
        fail("give exactly one of --onnx, --torch, --sklearn, --formula or --file")
    if (keep_torch or config) and torch_factory is None:
        fail("--keep-torch and --config go with --torch")
    client = _remote()
    if client is not None:
        if pickle_file is not None:
            fail(
                "the platform's API takes no pickle-based files (loading one runs its code): convert "
                "the model to ONNX (--sklearn FILE or --torch do it here) and register that"
            )
        # The fields as written: the platform sets the owner (and refuses another one).
        raw = read_mapping(card, "card", CardInvalid, "a mapping of card fields")
        # Converted here, checked against the card; the server checks everything again.
        local = Card.parse({**raw, "owner": raw.get("owner") or "-"})
        with console.status(f"converting {local.name} …"):
            files = _upload_files(
                local, onnx_file, torch_factory, weights, keep_torch, config, sklearn_file, formula, params
            )
        with console.status(f"uploading {local.name} to {client.url} …"):
            shown = client.register(
                raw, files, lineage={k: v for k, v in vars(lineage).items() if v}, new_version=new_version
            )
            if promote:
                shown = client.promote(local.name, int(shown["version"]), promote)
        if as_json:
            emit_json(shown)
        else:
            console.print(
                f"registered [bold]{shown['name']}[/] version {shown['version']} ({shown['format']}) "
                f"on {client.url}" + (f", alias {', '.join(shown['aliases'])}" if shown["aliases"] else "")
            )
        return
    parsed = Card.load(card)
    registry = _registry()
    with console.status(f"registering {parsed.name} …"):
        if onnx_file is not None:
            version = registry.register_onnx(parsed, onnx_file, lineage=lineage, new_version=new_version)
        elif torch_factory is not None:
            module, kwargs = _torch_module(torch_factory, config, weights)
            if keep_torch:
                version = registry.register_torch_module(
                    parsed, module, kwargs, entrypoint=torch_factory, lineage=lineage, new_version=new_version
                )
            else:
                version = registry.register_torch(parsed, module, lineage=lineage, new_version=new_version)
        elif sklearn_file is not None:
            import joblib

            # Loading a pickle runs its code: this is meant for the developer's own file only.
            estimator = joblib.load(sklearn_file)
            samples = convert.sample_inputs(parsed.inputs, batch=8)
            version = registry.register_sklearn(
                parsed, estimator, samples, lineage=lineage, new_version=new_version
            )
        elif formula is not None:
            parameters: dict[str, Any] = {}
            if params is not None:
                try:
                    parameters = json.loads(params.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    fail(f"cannot read formula parameters from {str(params)!r}: {exc}")
            version = registry.register_formula(
                parsed, formula, parameters, lineage=lineage, new_version=new_version
            )
        else:
            assert pickle_file is not None
            version = registry.register_file(parsed, pickle_file, lineage=lineage, new_version=new_version)
        if promote:
            version = registry.promote(parsed.name, version.version, promote)
    if as_json:
        emit_json(_version_row(version))
    else:
        console.print(
            f"registered [bold]{version.name}[/] version {version.version} ({version.format})"
            + (f", alias {', '.join(version.aliases)}" if version.aliases else "")
        )


def _register_pipeline(
    path: Path, lineage: Lineage, new_version: bool, promote: str | None, as_json: bool
) -> None:
    """Register a pipeline (`model_hub.pipeline`), on the platform or in the local registry."""
    fields = read_mapping(path, "pipeline", PipelineInvalid)
    client = _remote()
    if client is not None:
        # Parsed here for a quick answer to a malformed file; the platform checks it against the steps.
        PipelineSpec.parse({**fields, "owner": fields.get("owner") or "-"})
        with console.status(f"registering pipeline {fields.get('name')} on {client.url} …"):
            shown = client.register_pipeline(
                fields, lineage={k: v for k, v in vars(lineage).items() if v}, new_version=new_version
            )
            if promote:
                shown = client.promote(str(fields["name"]), int(shown["version"]), promote)
        if as_json:
            emit_json(shown)
        else:
            console.print(
                f"registered pipeline [bold]{shown['name']}[/] version {shown['version']} on {client.url}"
                + (f", alias {', '.join(shown['aliases'])}" if shown["aliases"] else "")
            )
        return
    spec = PipelineSpec.load(path)
    registry = _registry()
    with console.status(f"registering pipeline {spec.name} …"):
        version = registry.register_pipeline(spec, lineage=lineage, new_version=new_version)
        if promote:
            version = registry.promote(spec.name, version.version, promote)
    if as_json:
        emit_json(_version_row(version))
    else:
        steps = " → ".join(f"{s.name} ({s.component})" for s in spec.graph.steps)
        console.print(
            f"registered pipeline [bold]{version.name}[/] version {version.version}: {steps}"
            + (f", alias {', '.join(version.aliases)}" if version.aliases else "")
        )


def _upload_files(
    card: Card,
    onnx_file: Path | None,
    torch_factory: str | None,
    weights: Path | None,
    keep_torch: bool,
    config: str | None,
    sklearn_file: Path | None,
    formula: str | None,
    params: Path | None,
) -> dict[str, bytes]:
    """The files the platform's API takes for the model given (`model_hub.intake.UPLOAD_FILES`),
    converted here: scikit-learn and torch become ONNX (or torch.json + safetensors)."""
    import tempfile

    from model_hub import HubSettings
    from model_hub import torch_module as stored_torch

    hub = HubSettings()
    if onnx_file is not None:
        try:
            return {"model.onnx": onnx_file.read_bytes()}
        except OSError as exc:
            fail(f"cannot read {str(onnx_file)!r}: {exc.strerror}")
    if torch_factory is not None:
        module, kwargs = _torch_module(torch_factory, config, weights)
        if keep_torch:
            with tempfile.TemporaryDirectory(prefix="brain-torch-") as tmp:
                stored_torch.save(Path(tmp), module.eval(), torch_factory, kwargs)
                names = (stored_torch.SPEC, stored_torch.WEIGHTS)
                return {name: (Path(tmp) / name).read_bytes() for name in names}
        samples = convert.sample_inputs(card.inputs)
        model = convert.torch_to_onnx(module, card, samples, hub.verify_atol, hub.verify_rtol)
        return {"model.onnx": model.SerializeToString()}
    if sklearn_file is not None:
        import joblib

        # Your own file, loaded on your machine: the platform never loads a pickle.
        estimator = joblib.load(sklearn_file)
        samples = convert.sample_inputs(card.inputs, batch=8)
        model = convert.sklearn_to_onnx(estimator, card, samples, hub.verify_atol, hub.verify_rtol)
        return {"model.onnx": model.SerializeToString()}
    assert formula is not None
    parameters: dict[str, Any] = {}
    if params is not None:
        try:
            parameters = json.loads(params.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            fail(f"cannot read formula parameters from {str(params)!r}: {exc}")
    return {"formula.json": json.dumps({"entrypoint": formula, "parameters": parameters}).encode()}


@app.command("list")
def list_(
    kind: Annotated[list[Kind] | None, typer.Option(help="Filter by kind; repeat to OR.")] = None,
    industry: Annotated[list[str] | None, typer.Option(help="Filter by industry code; repeat to OR.")] = None,
    visibility: Annotated[list[Visibility] | None, typer.Option(help="Filter by visibility.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's components.")] = None,
    text: Annotated[str | None, typer.Option("--text", "-q", help="Free text over names and card.")] = None,
    include_deprecated: Annotated[bool, typer.Option("--all", help="Include deprecated components.")] = False,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Search the catalogue."""
    from model_hub.taxonomy import industry as lookup

    client = _remote()
    if client is not None:
        if visibility or owner or include_deprecated:
            fail(
                "--visibility, --owner and --all are for the local registry; "
                "the platform lists what your key sees"
            )
        found = client.components(
            kind=[k.value for k in kind or []],
            industry=industry or [],
            q=text,
            page=page,
            page_size=min(page_size, 100),
        )
        if as_json:
            emit_json(found)
            return
        table = Table(title=f"components ({found['total']}, page {found['page']})")
        for col in ("name", "名称", "kind", "industries", "visibility", "owner", "production", "latest"):
            table.add_column(col)
        for e in found["items"]:
            table.add_row(
                _named(e["name"], (e.get("pipeline") or {}).get("steps")),
                e["display"]["zh"] if isinstance(e.get("display"), dict) else str(e.get("display_zh", "")),
                str(e["kind"]),
                ", ".join(e["industries"]),
                str(e["visibility"]),
                str(e["owner"]),
                str(e.get("production_version") or "-"),
                str(e.get("latest_version") or "-"),
            )
        console.print(table)
        return

    for code in industry or []:
        try:
            lookup(code)
        except ValueError as exc:
            fail(str(exc))
    registry = _registry()
    registry.sync()
    result = registry.search(
        Query(
            kinds=kind or [],
            industries=industry or [],
            visibilities=visibility or [],
            owner=owner,
            text=text,
            include_deprecated=include_deprecated,
            page=page,
            page_size=page_size,
        )
    )
    if as_json:
        emit_json({"total": result.total, "page": result.page, "items": [e.as_dict() for e in result.items]})
        return
    table = Table(title=f"components ({result.total}, page {result.page})")
    for col in ("name", "名称", "kind", "industries", "visibility", "owner", "production", "latest"):
        table.add_column(col)
    for e in result.items:
        table.add_row(
            _named(e.name, e.steps),
            e.display_zh,
            f"{e.kind.value} {e.kind.zh}",
            ", ".join(e.industries),
            e.visibility.value,
            e.owner,
            str(e.production_version or "-"),
            str(e.latest_version or "-"),
        )
    console.print(table)


def _named(name: str, steps: Any) -> str:
    """A catalogue row's name; a pipeline's with its steps under it."""
    if not steps:
        return name
    return f"{name}\n[dim]pipeline: {' → '.join(str(s) for s in steps)}[/]"


@app.command()
def show(name: str, as_json: JsonOpt = False) -> None:
    """Show a component's card and versions."""
    client = _remote()
    if client is not None:
        shown = client.show(name)
        if as_json:
            emit_json(shown)
            return
        console.print(Card.model_validate(shown["card"]).to_markdown())
        if shown["deprecated"]:
            instead = f"; use {shown['replaced_by']}" if shown["replaced_by"] else ""
            console.print(f"[bold]deprecated[/]{instead}")
        table = Table(title="versions")
        for col in ("version", "format", "status", "aliases", "sha256"):
            table.add_column(col)
        for v in shown["versions"]:
            table.add_row(
                str(v["version"]),
                v["format"],
                v["status"],
                ", ".join(v["aliases"]),
                v["manifest_sha256"][:12],
            )
        console.print(table)
        return
    registry = _registry()
    card = registry.card(name)
    versions = registry.versions(name)
    if as_json:
        emit_json({"card": card.model_dump(mode="json"), "versions": [v.as_dict() for v in versions]})
        return
    console.print(card.to_markdown())
    table = Table(title="versions")
    for col in ("version", "format", "status", "aliases", "sha256", "lineage"):
        table.add_column(col)
    for v in versions:
        lineage = ", ".join(f"{k}={val}" for k, val in vars(v.lineage).items() if val)
        table.add_row(
            str(v.version), v.format, v.status, ", ".join(v.aliases), v.manifest_sha256[:12], lineage
        )
    console.print(table)


@app.command()
def promote(
    name: str,
    version: int,
    to: Annotated[str, typer.Option(help="The alias: staging or production.")] = "production",
    as_json: JsonOpt = False,
) -> None:
    """Point an alias at a version."""
    client = _remote()
    shown = (
        client.promote(name, version, to)
        if client is not None
        else _registry().promote(name, version, to).as_dict()
    )
    emit_json(shown) if as_json else console.print(f"{name}: {to} → version {shown['version']}")


@app.command()
def rollback(
    name: str,
    to: Annotated[
        int | None, typer.Option(help="Roll back to this version instead of the previous one.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Point production back at the previous production version."""
    client = _remote()
    shown = client.rollback(name, to) if client is not None else _registry().rollback(name, to).as_dict()
    emit_json(shown) if as_json else console.print(f"{name}: production → version {shown['version']}")


@app.command()
def deprecate(
    name: str,
    version: Annotated[int | None, typer.Option(help="Deprecate only this version.")] = None,
    replacement: Annotated[
        str | None, typer.Option(help="The component callers should use instead (named in the 410).")
    ] = None,
) -> None:
    """Deprecate a version, or the whole component (hidden from the catalogue, no longer served)."""
    client = _remote()
    if client is not None:
        client.deprecate(name, version, replacement)
    else:
        _registry().deprecate(name, version, replacement)
    instead = f"; use {replacement}" if replacement else ""
    console.print(f"{name}{f' version {version}' if version else ''} deprecated{instead}")


@app.command()
def export(
    name: str,
    dest: Annotated[Path, typer.Option(help="Folder to copy the verified artifacts into.")],
    version: Annotated[str | None, typer.Option(help="Version number or alias; default production.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy a version's verified artifact folder (ONNX model, card, manifest) out of the registry."""
    ref: str | int | None = int(version) if version and version.isdigit() else version
    client = _remote()
    target = client.export(name, ref, dest) if client is not None else _registry().export(name, ref, dest)
    emit_json({"path": str(target)}) if as_json else console.print(f"exported to {target}")


@app.command()
def canary(
    name: str,
    version: Annotated[int | None, typer.Option(help="The canary version.")] = None,
    percent: Annotated[float, typer.Option(help="Share of calls (that name no version) it gets.")] = 10.0,
    off: Annotated[bool, typer.Option("--off", help="Stop the canary split.")] = False,
) -> None:
    """Split traffic between production and a canary version (e.g. 90/10)."""
    client = _remote()
    if off:
        client.clear_canary(name) if client is not None else _registry().clear_canary(name)
        console.print(f"{name}: canary off")
        return
    if version is None:
        fail("give --version N, or --off")
    if client is not None:
        client.set_canary(name, version, percent)
    else:
        _registry().set_canary(name, version, percent)
    console.print(f"{name}: {percent:g}% of calls → version {version}")


@app.command()
def serving(
    name: str,
    max_batch_size: Annotated[
        int | None, typer.Option(help="Rows one model call may take from concurrent requests (1: off).")
    ] = None,
    batch_wait_ms: Annotated[
        float | None, typer.Option(help="How long a batch waits for requests to join it.")
    ] = None,
    dedicated: Annotated[
        bool | None,
        typer.Option("--dedicated/--shared", help="A Ray Serve deployment of its own, or the shared one."),
    ] = None,
    min_replicas: Annotated[
        int | None, typer.Option(help="Dedicated replicas at least; 0 scales to zero.")
    ] = None,
    max_replicas: Annotated[int | None, typer.Option(help="Dedicated replicas at most.")] = None,
    target_ongoing_requests: Annotated[
        float | None, typer.Option(help="Requests in flight per replica the autoscaler aims for.")
    ] = None,
    downscale_delay_s: Annotated[
        float | None, typer.Option(help="Quiet seconds before a replica is removed (and zero is reached).")
    ] = None,
    payload_sample_rate: Annotated[
        float | None,
        typer.Option(
            help="Keep this share (at most 0.1) of calls' inputs and outputs for the owner; "
            "private components only; 0 stops it (`brain components payloads` reads them)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show or set how a component is served: dynamic batching, and a deployment of its own.

    Options not given keep their current values. Running replicas pick a change up within seconds;
    the platform starts or removes a dedicated deployment on its own.
    """
    client = _remote()
    changes = {
        k: v
        for k, v in {
            "max_batch_size": max_batch_size,
            "batch_wait_ms": batch_wait_ms,
            "dedicated": dedicated,
            "min_replicas": min_replicas,
            "max_replicas": max_replicas,
            "target_ongoing_requests": target_ongoing_requests,
            "downscale_delay_s": downscale_delay_s,
            "payload_sample_rate": payload_sample_rate,
        }.items()
        if v is not None
    }
    if client is not None:
        shown = (
            client.set_serving(name, changes)
            if changes
            else {"component": name, **client.show(name)["serving"]}
        )
        shown.pop("component", None)
        policy = ServingPolicy.model_validate(shown)
        changes = {}
    else:
        registry = _registry()
        policy = registry.info(name).serving
    if changes:
        current = policy
        try:
            policy = ServingPolicy.model_validate({**current.model_dump(), **changes})
        except ValidationError as exc:
            fail(f"invalid serving policy for {name}: {one_line(exc)}")
        registry.set_serving(name, policy)
    if as_json:
        emit_json({"component": name, **policy.model_dump()})
        return
    batching = (
        f"up to {policy.max_batch_size} rows, waiting {policy.batch_wait_ms:g} ms"
        if policy.batching
        else "off"
    )
    where = (
        f"its own deployment, {policy.min_replicas}-{policy.max_replicas} replicas "
        f"(target {policy.target_ongoing_requests:g} requests in flight each)"
        if policy.dedicated
        else "the shared capability-centre deployment"
    )
    sampled = f"; payloads sampled at {policy.payload_sample_rate:g}" if policy.payload_sample_rate else ""
    console.print(f"{name}: batching {batching}; served by {where}{sampled}")


@app.command()
def payloads(
    name: str,
    version: Annotated[int | None, typer.Option(min=1, help="Only this version.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="The newest this many.")] = 20,
    purge: Annotated[bool, typer.Option("--purge", help="Delete every sample of the component.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Read (or purge) the payload samples of a private component of your tenant, kept when its
    serving policy samples them (`brain components serving NAME --payload-sample-rate 0.01`). Read
    from the capability centre with a key of the owner's admin or developer (--url/--key)."""
    client = _remote()
    if client is None:
        fail(
            "payload samples are read from the capability centre: give its URL and an API key "
            "(`brain components --url http://127.0.0.1:8000 --key ibk_… payloads NAME`, "
            "or BRAIN_URL and BRAIN_API_KEY)"
        )
    try:
        body = client.purge_payloads(name) if purge else client.payloads(name, version, limit)
    except httpx.HTTPError as exc:
        fail(f"the capability centre at {client.url} did not answer ({exc}); is it running (`brain up`)?")
    if as_json:
        emit_json(body)
        return
    if purge:
        console.print(f"{name}: {body['deleted']} payload samples deleted")
        return
    console.print(f"{name}: {body['stored']} samples stored, sample rate {body['sample_rate']:g}")
    for item in body["items"]:
        inputs = ", ".join(f"{k} {v['shape']}" for k, v in item["inputs"].items())
        outputs = ", ".join(f"{k} {v['shape']}" for k, v in item["outputs"].items())
        console.print(
            f"  {item['at'][:19]}  v{item['version']}  {item['tenant']}  in: {inputs}  out: {outputs}"
        )


@app.command()
def sign(
    name: Annotated[str | None, typer.Argument(help="The component; omit with --unsigned.")] = None,
    version: Annotated[int | None, typer.Option(help="The version to sign.")] = None,
    unsigned: Annotated[bool, typer.Option("--unsigned", help="Sign every unsigned version.")] = False,
) -> None:
    """Sign versions registered before manifests were signed, or upgrade a legacy signature (one that
    does not bind the version number) of a version you trust (operator, local registry only).

    Each version's artifacts are checked against its recorded hash first, and a legacy signature must
    itself verify; a version whose signature is wrong is never re-signed (its artifact or hash was
    changed in MLflow).
    """
    if _remote() is not None:
        fail("signing needs the platform's registry key: run it on the platform, without --url/--key")
    registry = _registry()
    if unsigned:
        signed = registry.sign_unsigned()
        console.print(f"signed {len(signed)} version(s)")
        return
    if name is None or version is None:
        fail("name a component and --version N, or give --unsigned")
    registry.sign(name, version)
    console.print(f"{name} version {version} signed")


@app.command()
def reindex() -> None:
    """Rebuild the catalogue index from MLflow."""
    registry = _registry()
    count = registry.sync(full=True)
    console.print(f"indexed {count} components")


@app.command()
def industries(as_json: JsonOpt = False) -> None:
    """The industry code table."""
    if as_json:
        emit_json([vars(i) for i in INDUSTRIES])
        return
    table = Table(title="industries 行业")
    for col in ("code", "中文", "English", "group"):
        table.add_column(col)
    for i in INDUSTRIES:
        table.add_row(i.code, i.zh, i.en, i.group)
    console.print(table)


@app.command("card-template")
def card_template() -> None:
    """Print a card to start from (YAML)."""
    template = {
        "name": "my-component",
        "display": {"zh": "组件中文名", "en": "Component name"},
        "kind": "process",
        "industries": ["high-end-chemicals"],
        "task": "regression",
        "owner": "my-organisation",
        "license": "Apache-2.0",
        "visibility": "private",
        "intended_use": "What it is for.",
        "out_of_scope_use": "What it must not be used for.",
        "limitations": "Known limits.",
        "metrics": [
            {"name": "mae", "value": 0.1, "baseline": 0.3, "higher_is_better": False, "dataset": "holdout"}
        ],
        "standards": ["GB/T 32150-2015"],
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 8]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}],
        "version_notes": "First version.",
    }
    typer.echo(yaml.safe_dump(template, allow_unicode=True, sort_keys=False), nl=False)


@app.command()
def train(
    names: Annotated[list[str] | None, typer.Argument(help="Built-in components to train.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Train every built-in component.")] = False,
    retrain: Annotated[bool, typer.Option(help="Train again and register a new version.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data and the training.")] = 0,
    where: Annotated[
        str, typer.Option(help="auto (the scheduler when `brain up` runs it), scheduler, or in-process.")
    ] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Train built-in components and register them (reuses those already registered unless --retrain)."""
    from components.catalog import BUILTINS, builtin

    if all_ == bool(names):
        fail("name built-in components, or give --all")
    if where not in ("auto", "scheduler", "in-process"):
        fail("--where must be auto, scheduler or in-process")
    try:
        chosen = list(BUILTINS) if all_ else [builtin(n) for n in names or []]
    except ValueError as exc:
        fail(str(exc))
    if where == "scheduler" or (where == "auto" and _scheduler_running()):
        _train_on_scheduler([c.name for c in chosen], retrain, seed, as_json)
    else:
        _train_in_process(chosen, retrain, seed, as_json)


def _scheduler_running() -> bool:
    from deploy.embedded.platform import Platform, alive

    return any(s.name == "scheduler" and alive(s.pid) for s in Platform().services())


def _train_on_scheduler(names: list[str], retrain: bool, seed: int, as_json: bool) -> None:
    """Train each built-in as a ``training`` job on the local pool, follow them to the end, and put
    each new version in production, as `brain up` does; the results come from the jobs' metrics.json."""
    import time

    from components.base import TrainableComponent
    from components.catalog import builtin
    from deploy.jobs.train import METRICS_FILE, default_output
    from deploy.tenancy.bootstrap import OPERATOR
    from model_hub import HubSettings
    from scheduler.control import SchedulerControl, parse_job
    from scheduler.model import JobState
    from scheduler.store import new_job_id

    home = HubSettings().home_dir  # the jobs get it as BRAIN_HOME, so default_output is the same folder
    registry = _registry()
    registry.sync()
    client = SchedulerControl.open(scheduler_settings())
    try:
        rows: dict[str, dict[str, Any]] = {}
        jobs: dict[str, str] = {}  # component → job id
        for name in names:
            if registry.catalog.card(name) is not None and not retrain:
                rows[name] = _row(name, registry.version(name).version, trained=False, seconds=0.0)
                continue
            synthetic: dict[str, Any] = {"seed": seed}
            training: dict[str, Any] = {"component": name, "data": {"synthetic": synthetic}, "register": True}
            component = builtin(name)
            if isinstance(component, TrainableComponent):
                # The same data and epochs as its in-process training: the same model either way.
                synthetic["rows"] = component.samples
                training["epochs"] = component.epochs
            request = parse_job(
                {
                    "id": new_job_id(),
                    "tenant": OPERATOR,
                    "kind": "training",
                    "training": training,
                    "bundles": [{"cpu": 1}],
                    # The job's programs find the hub this command uses (and write their output in it).
                    "runtime_env": {"env_vars": {"BRAIN_HOME": str(home)}},
                }
            )
            jobs[name] = client.submit(request).id
        final = {JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.CANCELLED.value}
        ended: dict[str, Any] = {}
        with console.status(f"training {len(jobs)} component(s) on the scheduler …") as status:
            while len(ended) < len(jobs):
                for name, job_id in jobs.items():
                    if name not in ended:
                        job = client.job(job_id)
                        if job.state in final:
                            ended[name] = job
                status.update(f"training on the scheduler: {len(ended)} of {len(jobs)} job(s) ended")
                if len(ended) < len(jobs):
                    time.sleep(0.5)
        failed = []
        for name, job in ended.items():
            if job.state != JobState.SUCCEEDED.value:
                tail = "\n".join(client.logs(job.id).splitlines()[-15:])
                failed.append(f"training job {job.id} ({name}) {job.state}: {job.message}\n{tail}")
                continue
            summary = read_metrics(default_output(job.id) / METRICS_FILE)
            version = registry.promote(name, int(summary["version"]["version"]), "production")
            rows[name] = _row(name, version.version, trained=True, seconds=float(summary["seconds"]))
    finally:
        client.close()
        registry.close()
    if failed:
        fail("\n".join(failed))
    results = [rows[n] for n in names]
    if as_json:
        # "job": the first training job, as when one job trained them all; "jobs": every one.
        ids = list(jobs.values())
        emit_json({"job": ids[0] if ids else None, "jobs": jobs, "components": results})
        return
    for name, job_id in jobs.items():
        console.print(f"job {job_id} ({name}) succeeded on pool {ended[name].pool}")
    for r in results:
        what = f"trained in {r['seconds']:.1f} s" if r["trained"] else "already registered"
        console.print(f"  {r['name']}: version {r['version']} ({what})")


def _row(name: str, version: int, *, trained: bool, seconds: float) -> dict[str, Any]:
    return {"name": name, "version": version, "trained": trained, "seconds": round(seconds, 2)}


def read_metrics(path: Path) -> dict[str, Any]:
    """A training job's summary (`deploy.jobs.train` writes it); it must name the registered version."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read the training job's result {str(path)!r}: {exc}")
    if not isinstance(summary, dict) or not isinstance(summary.get("version"), dict):
        fail(f"{str(path)!r} names no registered version; was the job run with register: true?")
    return summary


def _train_in_process(chosen: list[Any], retrain: bool, seed: int, as_json: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from components.publish import Published, publish

    registry = _registry()
    registry.sync()
    results: list[Published] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
    ) as progress:
        task = progress.add_task("training", total=len(chosen))

        def done(p: Published) -> None:
            results.append(p)
            progress.update(task, advance=1, description=f"{p.name} v{p.version.version}")

        publish(registry, chosen, retrain=retrain, seed=seed, on_done=done)
    if as_json:
        emit_json(
            [
                {
                    "name": p.name,
                    "version": p.version.version,
                    "trained": p.trained,
                    "seconds": round(p.seconds, 2),
                }
                for p in results
            ]
        )
        return
    for p in results:
        what = f"trained in {p.seconds:.1f} s" if p.trained else "already registered"
        console.print(f"  {p.name}: version {p.version.version} ({what})")


@app.command()
def drift(
    name: str,
    threshold: Annotated[
        float | None,
        typer.Option(help="Set the PSI at which a drift event is raised for this component (0: none)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show how far a component's served traffic has drifted from its training statistics (PSI per
    feature, as the replica that answers counted it), and set its drift threshold. The scores come from
    the capability centre: give `brain components` its URL and a key of the component's owner or of an
    operator (--url/--key, BRAIN_URL/BRAIN_API_KEY or a profile)."""
    client = _remote()
    if client is None:
        fail(
            "drift scores are read from the capability centre: give its URL and an API key "
            "(`brain components --url http://127.0.0.1:8000 --key ibk_… drift NAME`, "
            "or BRAIN_URL and BRAIN_API_KEY)"
        )
    chosen: float | None = None
    try:
        if threshold is not None:
            chosen = threshold or None
            client.set_drift_threshold(name, chosen)
        report = client.drift(name)
    except httpx.HTTPError as exc:
        fail(f"the capability centre at {client.url} did not answer ({exc}); is it running (`brain up`)?")
    if threshold is not None:  # the replica learns the new threshold with its next route refresh
        report["threshold"] = chosen
    if as_json:
        emit_json(report)
        return
    limit = report["threshold"]
    console.print(
        f"{name}: threshold {limit if limit is not None else 'none'}; "
        f"{report['sample_rate']:g} of calls sampled; scores from {report['min_rows']} rows on"
    )
    if not report["versions"]:
        console.print(
            "no monitored version in the replica that answered (no calls yet, or no training statistics)"
        )
    for version in report["versions"]:
        table = Table(title=f"version {version['version']}: {version['rows_sampled']} rows sampled")
        for column in ("feature", "kind", "PSI"):
            table.add_column(column)
        for feature in version["features"]:
            over = limit is not None and feature["psi"] >= limit
            shown = f"[red]{feature['psi']:.4f}[/]" if over else f"{feature['psi']:.4f}"
            table.add_row(feature["name"], feature["kind"], shown)
        console.print(table)
