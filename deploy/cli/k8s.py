"""`brain deploy …`: what KubeRay runs in production, rendered by the Helm chart without a cluster (mounted by
the main CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError

from deploy.cli._common import err_console, fail
from deploy.k8s import K8sSpec, K8sSpecError, dump, explain, render, serve_config_yaml, topology

deploy_app = typer.Typer(
    help="Render the capability centre's Serve config and the KubeRay manifests (RayService, RayCluster per "
    "centre) with the Helm chart and your values; nothing is applied to any cluster.",
    no_args_is_help=True,
)

ValuesOption = Annotated[
    Path | None,
    typer.Option("--values", help="a values file of helm/industry-brain (default: the chart's defaults)"),
]
ReleaseOption = Annotated[
    str, typer.Option("--release", help="Helm release name; it prefixes every object's name")
]


def _spec(values: Path | None, release: str) -> K8sSpec:
    if values is None:
        try:
            return K8sSpec(release=release)
        except ValidationError as exc:
            raise K8sSpecError(explain(exc)) from None
    return K8sSpec.load(values, release)


@deploy_app.command("render-serve-config")
def render_serve_config(
    replicas: Annotated[
        int | None, typer.Option("--replicas", help="Serve replicas of the capability centre (at least 1)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
    values: ValuesOption = None,
    release: ReleaseOption = "brain",
    dedicated: Annotated[
        bool,
        typer.Option(
            "--dedicated",
            help="add an application per component that the registry marks dedicated (reads MLflow)",
        ),
    ] = False,
) -> None:
    """The Serve config (serveConfigV2) a KubeRay RayService runs for the capability centre."""
    if replicas is not None and replicas < 1:
        fail(f"--replicas {replicas}: the capability centre needs at least 1 replica")
    try:
        spec = _spec(values, release)
        if replicas is not None:
            centre = spec.capability_centre.model_copy(update={"replicas": replicas})
            spec = spec.model_copy(update={"capability_centre": centre})
        manifests = render(spec)
    except K8sSpecError as exc:
        fail(exc.message)
    policies = None
    if dedicated:
        from model_hub import HubSettings, Registry

        registry = Registry(HubSettings())
        try:
            policies = registry.dedicated()
        finally:
            registry.close()
    text = serve_config_yaml(manifests, policies)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    err_console.print(f"wrote {out}", highlight=False)


@deploy_app.command("render-manifests")
def render_manifests(
    values: ValuesOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="folder for one YAML file per object (default: all to stdout)"),
    ] = None,
    release: ReleaseOption = "brain",
    namespace: Annotated[
        str, typer.Option("--namespace", help="namespace the release runs in (used in pool addresses)")
    ] = "industry-brain",
) -> None:
    """The RayService of the capability centre, a RayCluster per centre and the scheduler's pool topology."""
    try:
        manifests = render(_spec(values, release), namespace)
    except K8sSpecError as exc:
        fail(exc.message)
    files = {name: dump(manifest) for name, manifest in manifests.files().items()}
    files["pools.yaml"] = yaml.safe_dump(topology(manifests), sort_keys=False, allow_unicode=True)
    if out is None:
        typer.echo("---\n".join(files.values()), nl=False)
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write to {out}: {exc.strerror}")
    err_console.print(f"wrote {len(files)} files to {out}: {', '.join(files)}", highlight=False)
