"""The scheduler as a process: ``python -m scheduler.service --home DIR --pool local=http://127.0.0.1:8265``.

It opens the store, registers the pools given on the command line, serves Prometheus metrics and the
REST API if asked, and runs the loop (`scheduler.loop.Scheduler`) until SIGTERM or SIGINT, which end it
after the current cycle. What it composes with (the API's key check, the programs of the built-in job
kinds) comes from its settings (`BRAIN_API_AUTH`, `BRAIN_JOB_PROGRAMS`), which the platform sets.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from prometheus_client import start_http_server

from scheduler.api import APIServer, build_app
from scheduler.errors import SchedulerError
from scheduler.loop import Scheduler
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec
from scheduler.store import SchedulerStore

log = logging.getLogger("scheduler.service")

# --- command line ---------------------------------------------------------------------------------


def _pool_arg(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            f"--pool {text!r}: write NAME=http://HOST:PORT (the Ray dashboard URL)"
        )
    return name, address


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.service", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="BRAIN_HOME: the scheduler's database lives here")
    parser.add_argument("--db-url", help="SQLAlchemy URL of the state (default: SQLite under --home)")
    parser.add_argument(
        "--pool", action="append", type=_pool_arg, default=[],
        help="NAME=URL: register (or re-point) a pool on a Ray cluster; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--pool-city", default=None, help="city of pools registered by --pool (default jinan)"
    )
    parser.add_argument("--token-file", default=None, help="Ray auth token file of --pool pools")
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    parser.add_argument("--interval", type=float, default=None, help="seconds between cycles")
    parser.add_argument(
        "--api-port", type=int, default=None, help="serve the REST API (pools, queues, jobs) on this port"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    overrides: dict[str, object] = {}
    if args.home is not None:
        overrides["home"] = args.home
    if args.db_url:
        overrides["scheduler_db_url"] = args.db_url
    if args.interval:
        overrides["cycle_interval_s"] = args.interval
    settings = SchedulerSettings(**overrides)  # type: ignore[arg-type]
    store = SchedulerStore.open(settings)
    for name, address in args.pool:
        _register(store, settings, name, address, args.pool_city, args.token_file)

    scheduler = Scheduler(store, settings)
    if args.metrics_port is not None:
        start_http_server(args.metrics_port, addr="127.0.0.1", registry=scheduler.metrics.registry)
    api = _start_api(store, settings, args.api_port) if args.api_port is not None else None

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current cycle and stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("scheduler running on %s", settings.database_url.split("@")[-1])
    scheduler.run(stop)
    if api is not None:
        api.stop()
    store.close()
    log.info("scheduler stopped")
    return 0


def _start_api(store: SchedulerStore, settings: SchedulerSettings, port: int) -> APIServer:
    """The REST API in a thread, with the key check named by `settings.api_auth`."""
    if not settings.api_auth:
        raise SystemExit(
            "the REST API needs a key check: set BRAIN_API_AUTH=module:factory (the platform sets "
            "its tenant-key check when `brain up` starts the scheduler)"
        )
    module, _, name = settings.api_auth.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(
            f"BRAIN_API_AUTH={settings.api_auth!r} names no key check ({exc}); write module:factory"
        ) from None
    server = APIServer(build_app(store, factory(settings), settings), settings.api_host, port).start()
    log.info("REST API on %s", server.url)
    return server


def _register(
    store: SchedulerStore,
    settings: SchedulerSettings,
    name: str,
    address: str,
    city: str | None,
    token_file: str | None,
) -> None:
    """Register a pool given on the command line; an existing pool keeps its metadata, gets the address."""
    default_token = Path("~/.ray/auth_token").expanduser()
    # The local Ray started from this machine uses ~/.ray/auth_token when it exists (Ray 2.60).
    token = token_file or (str(default_token) if default_token.exists() else None)
    try:
        existing = store.pool(name).pool_spec
    except SchedulerError:
        existing = None
    if existing is not None:
        spec = existing.model_copy(
            update={"address": address, "auth_token_file": token or existing.auth_token_file}
        )
    else:
        spec = ClusterPoolSpec(
            name=name, city=city or settings.default_city, address=address, auth_token_file=token
        )
    store.put_pool(spec)


if __name__ == "__main__":
    raise SystemExit(main())
