"""`brain tenants …`, `brain keys …`, `brain usage report`: tenancy and metering from the command line.

The CLI acts with the operator's own authority on the platform database (like `psql`); each
change is written to the audit log with the actor taken from ``--actor`` (default: the OS user).
"""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from deploy.cli._common import JsonOpt, console, emit_json, fail
from deploy.db import utcnow
from deploy.metering import render_usage, usage_report
from deploy.tenancy import Role, TenantKind, TenantSpec, TenantStore

tenants_app = typer.Typer(help="Tenants: enterprises, industry-brain operators, government departments.")
keys_app = typer.Typer(help="API keys: issued once, hashed at rest, expiring, revocable.")
usage_app = typer.Typer(help="Usage reports for billing, subsidies and the yearly assessment.")

ActorOpt = Annotated[str | None, typer.Option(help="Who is acting, for the audit log (default: OS user).")]


def _store() -> TenantStore:
    return TenantStore.open()


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


@tenants_app.command("create")
def tenants_create(
    name: str,
    display: Annotated[str, typer.Option(help="Display name, e.g. 鲁北化工.")],
    kind: Annotated[TenantKind, typer.Option(help="enterprise, operator or government.")],
    industry: Annotated[list[str], typer.Option(help="Industry code; repeat for several.")],
    city: Annotated[str, typer.Option(help="One of Shandong's 16 cities, e.g. jinan, qingdao.")],
    rate: Annotated[float | None, typer.Option(help="Requests per second (per replica).")] = None,
    burst: Annotated[int | None, typer.Option(help="Requests allowed at once above the rate.")] = None,
    monthly_quota: Annotated[int | None, typer.Option(help="Calls per calendar month.")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant."""
    from pydantic import ValidationError

    try:
        spec = TenantSpec(
            name=name,
            display=display,
            kind=kind,
            industries=industry,
            city=city,
            rate_per_second=rate,
            burst=burst,
            monthly_quota=monthly_quota,
        )
    except ValidationError as exc:
        fail(
            "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        )
    tenant = _store().create_tenant(spec, _actor(actor))
    from deploy.settings import PlatformSettings
    from deploy.tenancy.queues import give_tenant_queue

    queue = give_tenant_queue(tenant, PlatformSettings())  # its first job must find a queue
    if as_json:
        emit_json(
            {
                "name": tenant.name,
                "kind": tenant.kind.value,
                "industries": list(tenant.industries),
                "city": tenant.city,
                "queue": queue,
            }
        )
    else:
        console.print(f"created tenant [bold]{tenant.name}[/] ({tenant.display}), its job queue {queue}")


@tenants_app.command("list")
def tenants_list(as_json: JsonOpt = False) -> None:
    """List tenants."""
    tenants = _store().list_tenants()
    if as_json:
        emit_json(
            [
                {
                    "name": t.name,
                    "display": t.display,
                    "kind": t.kind.value,
                    "industries": list(t.industries),
                    "city": t.city,
                    "rate_per_second": t.rate_per_second,
                    "monthly_quota": t.monthly_quota,
                }
                for t in tenants
            ]
        )
        return
    table = Table(title=f"tenants ({len(tenants)})")
    for col in ("name", "display", "kind", "industries", "city", "rate/s", "quota/month"):
        table.add_column(col)
    for t in tenants:
        table.add_row(
            t.name,
            t.display,
            t.kind.value,
            ", ".join(t.industries),
            t.city,
            str(t.rate_per_second or "default"),
            str(t.monthly_quota or "default"),
        )
    console.print(table)


@keys_app.command("issue")
def keys_issue(
    tenant: str,
    role: Annotated[Role, typer.Option(help="admin, ops, developer or consumer.")] = Role.consumer,
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
    days: Annotated[int | None, typer.Option(min=1, help="Lifetime in days (default from settings).")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue an API key. The key is printed once and never stored: keep it."""
    issued = _store().issue_key(
        tenant, role, _actor(actor), label=label, ttl=timedelta(days=days) if days else None
    )
    if as_json:
        emit_json(
            {
                "key": issued.secret,
                "prefix": issued.key.prefix,
                "tenant": tenant,
                "role": role.value,
                "expires_at": issued.key.expires_at.isoformat(),
            }
        )
        return
    console.print(f"API key for [bold]{tenant}[/] ({role.value}), expires {issued.key.expires_at:%Y-%m-%d}:")
    typer.echo(issued.secret)
    console.print("[yellow]shown once; it cannot be recovered — store it now[/]")


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List keys (prefixes only; secrets are never stored)."""
    now = utcnow()
    keys = _store().list_keys(tenant)
    rows = [
        {
            "prefix": k.prefix,
            "tenant": k.tenant,
            "role": k.role.value,
            "label": k.label,
            "state": k.state(now),
            "expires_at": k.expires_at.isoformat(),
        }
        for k in keys
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table(title=f"API keys ({len(rows)})")
    for col in ("prefix", "tenant", "role", "label", "state", "expires"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["prefix"], r["tenant"], r["role"], r["label"], r["state"], r["expires_at"][:10])
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix ibk_<id> as `brain keys list` shows it.")],
    actor: ActorOpt = None,
) -> None:
    """Revoke a key; it stops working at once here and within the key cache time elsewhere."""
    key = _store().revoke_key(prefix, _actor(actor))
    console.print(f"revoked {key.prefix} of {key.tenant}")


@usage_app.command("report")
def usage_report_cmd(
    month: Annotated[str, typer.Option(help="The month, e.g. 2026-11.")],
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    component: Annotated[str | None, typer.Option(help="Only this component.")] = None,
    format: Annotated[str, typer.Option(help="table, csv or json.")] = "table",
) -> None:
    """Usage per tenant × component × version for a month (calls, errors, rows, latency)."""
    if format not in ("table", "csv", "json"):
        fail("--format must be table, csv or json")
    store = _store()
    try:
        lines = usage_report(store.engine, month, tenant=tenant, component=component)
    except ValueError as exc:
        fail(str(exc))
    if format in ("csv", "json"):
        typer.echo(render_usage(lines, format))  # type: ignore[arg-type]
        return
    table = Table(title=f"usage {month}")
    for col in ("tenant", "component", "version", "calls", "errors", "rows", "mean ms", "max ms"):
        table.add_column(col)
    for line in lines:
        table.add_row(
            line.tenant,
            line.component,
            line.version,
            str(line.calls),
            str(line.errors),
            str(line.rows),
            f"{line.latency_ms_mean:.2f}",
            f"{line.latency_ms_max:.2f}",
        )
    console.print(table)


def audit(
    target: Annotated[str | None, typer.Option(help="Only this tenant, key id (ibk_…) or component.")] = None,
    action: Annotated[
        str | None,
        typer.Option(help='Only this action ("component.promote") or family ("component.", "key.").'),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Who changed tenants, keys and the registry, and when (newest first)."""
    entries = _store().audit_log(target=target, action=action, limit=limit)
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    table = Table(title="audit log")
    for col in ("at (UTC)", "actor", "action", "target", "detail"):
        table.add_column(col)
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if not isinstance(v, dict | list))
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target, detail)
    console.print(table)
