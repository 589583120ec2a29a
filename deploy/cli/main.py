"""The `brain` command line: the root app and its entry point."""

from __future__ import annotations

import sys

import typer

from deploy.cli import backup, components, demo, platform, tenancy
from deploy.cli._common import err_console
from deploy.cli.jobs import jobs_app, pools_app
from deploy.cli.k8s import deploy_app
from deploy.settings import PlatformSettings

app = typer.Typer(
    help="Industry Brain (产业大脑): compute scheduling, algorithm+model centre, capability centre.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(components.app, name="components")
app.add_typer(tenancy.tenants_app, name="tenants")
app.add_typer(tenancy.keys_app, name="keys")
app.add_typer(tenancy.usage_app, name="usage")
app.command()(platform.up)
app.command()(platform.down)
app.command()(platform.doctor)
app.command()(backup.backup)
app.command()(backup.restore)
app.command()(demo.demo)
app.command()(tenancy.audit)

app.add_typer(deploy_app, name="deploy")
app.add_typer(pools_app, name="pools")
app.add_typer(jobs_app, name="jobs")

try:  # the simulator's commands, where the scheduler provides them
    from deploy.cli.sim import sim_app

    app.add_typer(sim_app, name="sim")
except ImportError:  # pragma: no cover - only while the scheduler is absent
    pass


def main() -> None:
    """Entry point: errors become one red line and a non-zero exit, never a traceback.

    Domain errors (they carry an HTTP-like ``status``) exit with 2; anything else is a bug and
    exits with 3; BRAIN_DEBUG=1 shows its traceback.
    """
    try:
        app()
    except Exception as exc:
        message = getattr(exc, "message", None)
        if message is not None and hasattr(exc, "status"):
            err_console.print(f"[bold red]error:[/] {message}", highlight=False)
            sys.exit(2)
        if PlatformSettings().debug:
            raise
        err_console.print(
            f"[bold red]unexpected error:[/] {type(exc).__name__}: {exc} "
            f"(rerun with BRAIN_DEBUG=1 for the traceback, and please report it)",
            highlight=False,
        )
        sys.exit(3)
