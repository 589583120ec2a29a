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
    """Call each built-in component over the Open Inference Protocol and show its answer."""
    from components.catalog import BUILTINS
    from deploy.centre.oip import encode_request
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
            encoded = encode_request(component.example())
            body = json.loads(encoded.body)
            response = httpx.post(
                f"{url}/v2/models/{card.name}/infer",
                content=encoded.body,
                headers={**headers, **encoded.headers()},
                timeout=60,
            )
            answer = {
                "component": card.name,
                "status": response.status_code,
                "request": body,
                "response": response.json(),
            }
            answers.append(answer)
            if as_json:
                continue
            table = Table(show_header=True, box=None)
            table.add_column("tensor")
            table.add_column("values")
            for tensor in body["inputs"]:
                table.add_row(f"→ {tensor['name']} {tensor['shape']}", _short(tensor["data"], 6))
            if response.status_code == 200:
                for out in response.json()["outputs"]:
                    table.add_row(f"← [bold]{out['name']}[/] {out['shape']}", _short(out["data"]))
            else:
                table.add_row("[red]error[/]", response.json().get("error", response.text))
            title = f"{card.display.zh} · {card.display.en}  ({card.kind.zh} {card.kind.value})"
            console.print(Panel(table, title=title, subtitle=card.intended_use[:120], expand=True))
    finally:
        if store is not None and issued is not None:
            store.revoke_key(issued.key.prefix, "brain demo")
        registry.close()
    if as_json:
        emit_json(answers)
    failed = [a["component"] for a in answers if a["status"] != 200]
    if failed:
        fail(f"these components did not answer: {', '.join(failed)}")
