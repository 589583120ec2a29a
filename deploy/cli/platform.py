"""`brain up`, `brain down`, `brain doctor`."""

from __future__ import annotations

import importlib.metadata
import shutil
import signal
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from deploy.cli._common import console, emit_json, fail
from deploy.embedded.errors import PlatformError
from deploy.embedded.network import Listener, is_loopback, listeners, platform_pids
from deploy.embedded.platform import Platform, Service, alive, port_free
from deploy.embedded.supervisor import Supervisor
from deploy.settings import scheduler_settings

MLFLOW_PORT = Annotated[int, typer.Option(envvar="BRAIN_MLFLOW_PORT", help="Port of the MLflow UI.")]
CENTRE_PORT = Annotated[int, typer.Option(envvar="BRAIN_PORT", help="Port of the capability centre.")]
GRPC_PORT = Annotated[
    int,
    typer.Option(envvar="BRAIN_GRPC_PORT", help="gRPC port of the capability centre (OIP gRPC; 0: off)."),
]
DASHBOARD_PORT = Annotated[
    int, typer.Option(envvar="BRAIN_DASHBOARD_PORT", help="Port of the Ray dashboard.")
]
SCHEDULER_METRICS_PORT = Annotated[
    int, typer.Option(envvar="BRAIN_SCHEDULER_METRICS_PORT", help="Port of the scheduler's metrics.")
]
SCHEDULER_API_PORT = Annotated[
    int, typer.Option(envvar="BRAIN_SCHEDULER_API_PORT", help="Port of the scheduler's REST API.")
]
PORTAL_PORT = Annotated[int, typer.Option(envvar="BRAIN_PORTAL_PORT", help="Port of the portal (web UI).")]


def up(
    mlflow_port: MLFLOW_PORT = 5000,
    port: CENTRE_PORT = 8000,
    grpc_port: GRPC_PORT = 8001,
    dashboard_port: DASHBOARD_PORT = 8265,
    scheduler_metrics_port: SCHEDULER_METRICS_PORT = 9108,
    scheduler_api_port: SCHEDULER_API_PORT = 8300,
    portal_port: PORTAL_PORT = 8400,
    serve: Annotated[bool, typer.Option(help="Start the capability centre on Ray Serve.")] = True,
    builtins: Annotated[
        bool, typer.Option(help="Train and register the built-in components on first run.")
    ] = True,
    detach: Annotated[bool, typer.Option(help="Start and return; `brain down` stops it.")] = False,
) -> None:
    """Start the platform on its embedded defaults (local Ray, MLflow on SQLite, state on SQLite)."""
    from deploy.tenancy import TenantStore
    from deploy.tenancy.bootstrap import ensure_operator
    from model_hub import Registry

    platform = Platform(mlflow_port=mlflow_port)
    with console.status("starting the registry (MLflow on SQLite) …"):
        try:
            mlflow = platform.start_mlflow()
        except PlatformError as exc:
            fail(exc.message)
        started = [mlflow]
        registry = Registry(platform.hub)
        registry.sync()
        count = registry.catalog.count()
        issued = ensure_operator(TenantStore.open())
    console.print(f"[green]✓[/] MLflow UI and registry  {mlflow.url}   ({count} components)")
    if builtins:
        from components.publish import ensure_builtins
        from model_hub.pipeline import FORMAT as PIPELINE_FORMAT

        with console.status("registering the built-in components (trained on first run) …"):
            published = ensure_builtins(registry)
        trained = [p for p in published if p.trained]
        pipelines = sum(p.version.format == PIPELINE_FORMAT for p in published)
        console.print(
            f"[green]✓[/] built-in components       {len(published)} in production"
            + (f": {len(published) - pipelines} components, {pipelines} pipeline" if pipelines else "")
            + ("s" if pipelines > 1 else "")
            + (f" ({len(trained)} trained in {sum(p.seconds for p in trained):.0f} s)" if trained else "")
        )
    if serve:
        with console.status("starting the capability centre (local Ray + Ray Serve) …"):
            try:
                centre = platform.start_centre(port, dashboard_port, grpc_port=grpc_port)
            except PlatformError as exc:
                platform.down()
                fail(exc.message)
        started.append(centre)
        console.print(f"[green]✓[/] capability centre       {centre.url}   (Open Inference Protocol: /v2)")
        if grpc_port:
            console.print(
                f"[green]✓[/] capability centre gRPC  {platform.host}:{grpc_port}   "
                "(inference.GRPCInferenceService)",
                highlight=False,
            )
        console.print(f"[green]✓[/] Ray dashboard           http://127.0.0.1:{dashboard_port}")
        with console.status("starting the scheduler (pool `local` on the local Ray) …"):
            try:
                ensure_starter_queues()
                sched = platform.start_scheduler(dashboard_port, scheduler_metrics_port, scheduler_api_port)
            except PlatformError as exc:
                platform.down()
                fail(exc.message)
        started.append(sched)
        console.print(f"[green]✓[/] scheduler API           {sched.url}/api/v1   (pool `local`)")
        console.print(
            f"  scheduler metrics         http://127.0.0.1:{scheduler_metrics_port}/metrics", highlight=False
        )
        try:
            portal = platform.start_portal(portal_port, centre.url, sched.url)
        except PlatformError as exc:
            platform.down()
            fail(exc.message)
        started.append(portal)
        console.print(f"[green]✓[/] portal 门户              {portal.url}/   (log in with an API key)")
    console.print(f"  data folder (BRAIN_HOME)  {platform.home}")
    console.print(f"  logs                      {platform.logs}")
    if issued is not None:
        console.print("[yellow]admin API key of tenant 'platform' — shown once, store it now:[/]")
        typer.echo(issued.secret)
    if detach:
        console.print("running in the background; `brain down` stops it")
        return
    console.print("press Ctrl-C to stop")
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    supervisor = Supervisor(platform, started, say=lambda line: console.print(line, highlight=False))
    ended = None
    while not stopping and ended is None:
        ended = supervisor.step()
        if ended is None:
            time.sleep(0.5)
    if ended is not None and ended.deliberate:
        console.print(ended.message)  # `brain down` stopped everything: nothing left to do here
        return
    if ended is not None:
        console.print(f"[red]{ended.message}, and was given up on; stopping the rest[/]")
    stopped = platform.down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing'}")
    if ended is not None:
        raise typer.Exit(1)


def ensure_starter_queues() -> None:
    """A queue for the operator tenant, so that jobs can be submitted at once: province → platform (also
    when `brain tenants create` made the tree before the first start)."""
    from scheduler.control import SchedulerControl
    from scheduler.spec import QueueSpec

    client = SchedulerControl.open(scheduler_settings())
    try:
        specs = client.store.queue_specs()
        if not any(q.tenant == "platform" for q in specs):
            root = next((q.name for q in specs if q.parent is None), None)
            new = [] if root is not None else [QueueSpec(name="shandong")]
            client.put_queues(
                [*new, QueueSpec(name="platform", parent=root or "shandong", tenant="platform")]
            )
    finally:
        client.close()


def down() -> None:
    """Stop everything `brain up` started."""
    stopped = Platform().down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


PACKAGES = (
    "ray",
    "mlflow",
    "torch",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "scikit-learn",
    "sqlalchemy",
    "alembic",
    "prometheus-client",
    "kubernetes",
    "typer",
    "pydantic",
)


def doctor(
    mlflow_port: MLFLOW_PORT = 5000,
    port: CENTRE_PORT = 8000,
    grpc_port: GRPC_PORT = 8001,
    dashboard_port: DASHBOARD_PORT = 8265,
    scheduler_metrics_port: SCHEDULER_METRICS_PORT = 9108,
    scheduler_api_port: SCHEDULER_API_PORT = 8300,
    portal_port: PORTAL_PORT = 8400,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check Python, packages, free ports and stores; exit 1 if something is wrong."""
    from model_hub import HubSettings, Registry

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail})

    check("python", sys.version_info >= (3, 11), sys.version.split()[0] + " (3.11+ needed)")
    for package in PACKAGES:
        try:
            version = importlib.metadata.version(package)
            detail = version
            ok = True
            if package == "torch" and "+cu" in version:
                detail += " (a CUDA build; the CPU build `torch==2.13.0` is enough here)"
        except importlib.metadata.PackageNotFoundError:
            ok, detail = False, "not installed: run `make install`"
        check(f"package {package}", ok, detail)
    # A port is the platform's own if one of its processes listens on it (the dashboard and the scheduler's
    # metrics are second ports of recorded services, not services of their own).
    running = {s.port for s in Platform().services() if alive(s.pid)} | {
        listener.port for listener in platform_listeners(Platform())
    }
    ports = (
        (mlflow_port, "MLflow UI"),
        (port, "capability centre"),
        *(((grpc_port, "capability centre gRPC"),) if grpc_port else ()),
        (dashboard_port, "Ray dashboard"),
        (scheduler_api_port, "scheduler REST API"),
        (scheduler_metrics_port, "scheduler metrics"),
        (portal_port, "portal"),
    )
    for number, what in ports:
        free = port_free(number)
        check(
            f"port {number}",
            free or number in running,
            f"{what}: "
            + (
                "free"
                if free
                else "used by this platform"
                if number in running
                else "in use by another process"
            ),
        )
    settings = HubSettings()
    home = settings.home_dir
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        check("data folder", True, f"{home} writable, {shutil.disk_usage(home).free / 1e9:.1f} GB free")
    except OSError as exc:
        check("data folder", False, f"{home}: {exc.strerror}; set BRAIN_HOME to a writable folder")
    try:
        registry = Registry(settings)
        indexed = registry.catalog.count()
        registered = registry.count_registered()
        check(
            "registry",
            indexed == registered,
            f"{settings.tracking_uri}: {registered} registered, {indexed} indexed"
            + ("" if indexed == registered else " — run `brain components reindex`"),
        )
    except Exception as exc:  # any store failure is a finding, not a crash
        check("registry", False, f"{settings.tracking_uri}: {exc}")
    platform = Platform()
    check_ray_token(platform, check)
    check_listeners(platform, check)
    failed = [c for c in checks if not c["ok"]]
    if as_json:
        emit_json({"ok": not failed, "checks": checks})
    else:
        table = Table(title="brain doctor")
        for col in ("check", "", "detail"):
            table.add_column(col)
        for c in checks:
            table.add_row(c["check"], "[green]✓[/]" if c["ok"] else "[red]✗[/]", c["detail"])
        console.print(table)
    if failed:
        raise SystemExit(1)


def check_ray_token(platform: Platform, check: Callable[[str, bool, str], None]) -> None:
    """The platform's Ray token file exists only for its own user (Ray token auth, set explicitly)."""
    token = platform.ray_token_file
    if not token.exists():
        check("ray auth token", True, f"{token}: not created yet (`brain up` creates it, mode 0600)")
        return
    mode = stat.S_IMODE(token.stat().st_mode)
    check(
        "ray auth token",
        mode == 0o600,
        f"{token}: mode {mode:o}"
        + ("" if mode == 0o600 else f" — others can read the local Ray's token; run `chmod 600 {token}`"),
    )


def _pids(services: list[Service]) -> set[int]:
    """The running services' processes and their descendants (Ray's and Serve's included)."""
    return platform_pids(
        [s.pid for s in services], [Path(s.children_file) for s in services if s.children_file]
    )


def platform_listeners(platform: Platform) -> list[Listener]:
    """What the running platform's processes listen on (none when it is not running)."""
    services = [s for s in platform.services() if alive(s.pid)]
    return listeners(_pids(services)) if services else []


def check_listeners(platform: Platform, check: Callable[[str, bool, str], None]) -> None:
    """Every listening socket of the platform's processes; one not on loopback fails while BRAIN_HOST is."""
    from deploy.settings import PlatformSettings

    services = [s for s in platform.services() if alive(s.pid)]
    if not services:
        check("listening sockets", True, "the platform is not running")
        return
    host = PlatformSettings().host
    private = is_loopback(host)
    pids = _pids(services)
    found = listeners(pids)
    check(
        "listening sockets",
        bool(found),
        f"{len(found)} sockets of {len(pids)} platform processes (BRAIN_HOST={host})"
        if found
        else f"none found among {len(pids)} platform processes: run `brain doctor` as their user",
    )
    for listener in found:
        check(
            f"listen {listener.address}:{listener.port}",
            listener.loopback or not private,
            f"{listener.process}, pid {listener.pid}{_exposure(listener, host, private)}",
        )


def _exposure(listener: Listener, host: str, private: bool) -> str:
    """What a listener's address means while BRAIN_HOST is ``host``, and what to do about it."""
    if listener.loopback:
        return ""
    if not private:
        return " (exposed: BRAIN_HOST is not loopback)"
    if "ServeReplica" in listener.process:
        # Known and not configurable: say so, instead of sending people hunting for its owner.
        return (
            " — reachable from other machines: Ray Serve 2.60 binds each replica's internal gRPC server "
            "to all interfaces and has no setting for it; block the port with the host firewall "
            "(docs/security.md, Network)"
        )
    return (
        f" — reachable from other machines while BRAIN_HOST={host} is loopback; stop the platform "
        f"(`brain down`) and find what started it (`ss -ltnp 'sport = :{listener.port}'`)"
    )
