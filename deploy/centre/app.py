"""The capability centre as a Ray Serve application.

One ingress deployment that runs everything on the request path itself (DESIGN.md: each extra
deployment hop costs 4-8x on a small host). Behind Ray Serve's HAProxy ingress
(``RAY_SERVE_ENABLE_HA_PROXY=1``) a request is HAProxy → replica → ONNX Runtime in-process, over REST
and over gRPC alike (``grpc_service``).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from ray import serve
from ray.serve import Application

from deploy.centre.calls import install
from deploy.centre.dedicated import dedicated_app_name
from deploy.centre.gateway import build_app
from deploy.centre.grpc_service import InferenceService
from deploy.centre.inference import Centre
from deploy.centre.ingress import LOOPBACK_ENV, loopback_internal_grpc
from deploy.settings import PlatformSettings
from model_hub import HubSettings, ServingPolicy

log = logging.getLogger("brain.serve")

app = build_app()


def _log_to_stderr() -> None:
    """The platform's own log lines (incidents, loads, refresh failures) on the process's stderr.

    Ray keeps a worker's stderr in its session logs (``logs/worker-*.err``, the dashboard's log
    view). The original stream is used: in its throughput mode Serve replaces ``sys.stderr`` with a
    logger whose lines wait in a 1,000-record buffer, where an incident could sit unseen or be lost
    when the replica stops.
    """
    logger = logging.getLogger("brain")
    stream = sys.__stderr__
    if not logger.handlers and stream is not None:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class CapabilityCentreReplica(InferenceService):
    """One replica: the REST app (``serve.ingress``) and the gRPC service's methods (Serve's replica
    gRPC server calls them by name), over one `Centre`."""

    def __init__(self, home: str, max_models: int = 512) -> None:
        _log_to_stderr()
        if os.environ.get(LOOPBACK_ENV) == "1":
            loopback_internal_grpc()
        hub = HubSettings(home=home)
        settings = PlatformSettings(home=home)
        self.centre = Centre.open(hub, settings)
        self.centre.models.max_models = max_models
        install(self.centre)

    def check_health(self) -> None:
        if not self.centre.ready:
            raise RuntimeError("capability centre not ready")

    def __del__(self) -> None:
        # Serve calls this when a replica stops: flush the last usage counts.
        centre = getattr(self, "centre", None)
        if centre is not None:
            centre.close()


CapabilityCentre = serve.deployment(
    name="capability-centre",
    # Requests are short and CPU-bound in ONNX Runtime; more in flight per replica only queues.
    max_ongoing_requests=64,
    ray_actor_options={"num_cpus": 0},
    health_check_period_s=5,
)(serve.ingress(app)(CapabilityCentreReplica))


def serve_logging(home: str) -> dict[str, Any]:
    """Serve's logging in the replicas: its access log as BRAIN_ACCESS_LOG says, and below that
    only warnings. Serve logs an access line per request at INFO even when the access log is off
    (a filter drops it after the record was built): 6% of a replica's CPU at c16. The platform's own
    lines go to their own logger (``brain``), which keeps INFO."""
    access_log = PlatformSettings(home=home).access_log
    return {"enable_access_log": access_log, "log_level": "INFO" if access_log else "WARNING"}


def application(args: dict[str, Any]) -> Application:
    """Builder for `serve run deploy.centre.app:application home=...` and Serve config files."""
    replicas = int(args.get("replicas", 1))
    home = str(args.get("home", "~/.industry-brain"))
    return CapabilityCentre.options(num_replicas=replicas, logging_config=serve_logging(home)).bind(
        home, int(args.get("max_models", 512))
    )


#: Resident models of a dedicated replica: its component's versions (a canary pair, a pinned old one).
DEDICATED_MAX_MODELS = 8


def dedicated(args: dict[str, Any]) -> Application:
    """Builder of a component's own application (see deploy/centre/dedicated.py).

    The same replica code as the shared centre, so every check, the metering and the batching are
    the same; only the replicas are its own, autoscaled by the component's serving policy.
    """
    name = str(args["component"])
    policy = ServingPolicy.model_validate(args.get("policy") or {})
    home = str(args.get("home", "~/.industry-brain"))
    return CapabilityCentre.options(
        name=dedicated_app_name(name),
        num_replicas="auto",
        autoscaling_config=policy.autoscaling_config(),
        logging_config=serve_logging(home),
    ).bind(home, DEDICATED_MAX_MODELS)
