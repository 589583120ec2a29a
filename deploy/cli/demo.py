"""`brain demo`: call every built-in component through the running platform, as an enterprise would."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import httpx
import typer
from rich.panel import Panel
from rich.table import Table

from deploy.cli._common import console, emit_json, fail
from model_hub import Card


def _short(values: list[Any], limit: int = 8) -> str:
    shown = []
    for v in values[:limit]:
        if isinstance(v, float):
            shown.append(f"{v:.4g}")
        elif isinstance(v, str) and v.startswith(("{", "[")):
            try:
                shown.append(json.dumps(json.loads(v), ensure_ascii=False)[:300])
            except json.JSONDecodeError:
                shown.append(v[:300])
        else:
            shown.append(str(v)[:300])
    more = f" … (+{len(values) - limit})" if len(values) > limit else ""
    return ", ".join(shown) + more


def demo(
    url: Annotated[
        str, typer.Option(envvar="BRAIN_URL", help="The capability centre.")
    ] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None, typer.Option(envvar="BRAIN_API_KEY", help="An API key; default: a temporary demo key.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw responses as JSON.")] = False,
) -> None:
    """Call each built-in component, then each built-in pipeline, over the Open Inference Protocol and
    show the answers."""
    from components.catalog import BUILTINS
    from components.pipelines import PIPELINES
    from deploy.tenancy import Role, TenantStore
    from deploy.tenancy.bootstrap import OPERATOR
    from model_hub import Registry

    store = TenantStore.open() if key is None else None
    issued = None
    if store is not None:
        issued = store.issue_key(
            OPERATOR, Role.consumer, "brain demo", label="brain demo", ttl=timedelta(hours=1)
        )
        key = issued.secret
    registry = Registry()
    headers = {"Authorization": f"Bearer {key}"}
    answers: list[dict[str, Any]] = []
    try:
        try:
            httpx.get(f"{url}/v2/health/ready", timeout=5).raise_for_status()
        except httpx.HTTPError:
            fail(f"the capability centre at {url} is not answering; start it with `brain up`")
        for component in BUILTINS:
            card = registry.card(component.name)
            answers.append(_call(url, headers, card, component.example(), as_json))
        # The built-in pipelines (组件编排): several components in one call, timed per step.
        for pipeline in PIPELINES:
            card = registry.card(pipeline.name)
            answers.append(_call(url, headers, card, pipeline.example(), as_json, pipeline=True))
    finally:
        if store is not None and issued is not None:
            store.revoke_key(issued.key.prefix, "brain demo")
        registry.close()
    if as_json:
        emit_json(answers)
    failed = [a["component"] for a in answers if a["status"] != 200]
    if failed:
        fail(f"these components did not answer: {', '.join(failed)}")


def _call(
    url: str,
    headers: dict[str, str],
    card: Card,
    inputs: dict[str, Any],
    as_json: bool,
    *,
    pipeline: bool = False,
) -> dict[str, Any]:
    """One call of ``card``'s component (or pipeline: its per-step timings asked for), shown."""
    from deploy.centre.oip import encode_request

    encoded = encode_request(inputs)
    body = json.loads(encoded.body)
    if pipeline:
        body["parameters"] = {"timings": True}
    response = httpx.post(
        f"{url}/v2/models/{card.name}/infer",
        content=json.dumps(body).encode() if pipeline else encoded.body,
        headers={**headers, **encoded.headers()},
        timeout=60,
    )
    answer = {
        "component": card.name,
        "status": response.status_code,
        "request": body,
        "response": response.json(),
    }
    if as_json:
        return answer
    table = Table(show_header=True, box=None)
    table.add_column("tensor")
    table.add_column("values")
    for tensor in body["inputs"]:
        table.add_row(f"→ {tensor['name']} {tensor['shape']}", _short(tensor["data"], 6))
    if response.status_code == 200:
        for out in response.json()["outputs"]:
            table.add_row(f"← [bold]{out['name']}[/] {out['shape']}", _short(out["data"]))
        timings = response.json().get("parameters", {}).get("timings_ms")
        if timings:
            steps = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
            table.add_row("[dim]timings, ms[/]", steps)
    else:
        table.add_row("[red]error[/]", response.json().get("error", response.text))
    kind = "pipeline 组件编排" if pipeline else f"{card.kind.zh} {card.kind.value}"
    title = f"{card.display.zh} · {card.display.en}  ({kind})"
    console.print(Panel(table, title=title, subtitle=card.intended_use[:120], expand=True))
    return answer
