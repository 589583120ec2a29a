"""The chart's portal (Deployment, Service) and the capability centre's OIP gRPC port (Serve config,
Service, pods), as Helm renders them. Who reaches what is in test_network.py."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from fastapi.routing import APIRoute
from ray.serve.schema import ServeDeploySchema

from deploy.centre.grpc_service import SERVICER_FUNCTION
from deploy.k8s import render_chart
from deploy.portal import build_portal
from deploy.portal.__main__ import arguments
from tests.unit.deploy.k8s.crd import assert_valid

RELEASE = "brain"


def template(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render_chart(values or {}, RELEASE, "industry-brain")


def one(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def portal_container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(documents, "Deployment", "brain-portal")["spec"]["template"]["spec"]["containers"]
    return container


def test_the_portal_runs_its_own_process_with_the_centres_url() -> None:
    container = portal_container(template())
    assert container["image"] == "industry-brain:0.1.0"
    assert container["command"] == ["python", "-m", "deploy.portal"]
    # The arguments are the portal's own: its parser reads them as the pod will.
    args = arguments().parse_args(container["args"])
    assert (args.host, args.port, args.secure_cookies) == ("0.0.0.0", 8400, True)
    assert args.centre == "http://brain-capability-centre-serve-svc:8000"
    assert args.scheduler == "http://brain-scheduler:8300"
    assert container["ports"] == [{"name": "http", "containerPort": 8400}]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}


def test_the_probes_ask_the_portals_health_route() -> None:
    container = portal_container(template())
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    closed = "http://127.0.0.1:9"
    routes = {r.path for r in build_portal(closed, closed).routes if isinstance(r, APIRoute)}
    assert "/healthz" in routes


def test_the_portal_runs_as_no_root_with_nothing_secret() -> None:
    deployment = one(template(), "Deployment", "brain-portal")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # No database URL, registry key or other Secret: it acts with each user's own key only.
    assert "env" not in container and "envFrom" not in container
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "portal"
    assert "industry-brain.io/platform" not in labels  # so PostgreSQL and MLflow stay closed to it


def test_the_portal_service_and_sticky_sessions_with_more_pods() -> None:
    service = one(template(), "Service", "brain-portal")
    assert service["spec"]["ports"] == [{"name": "http", "port": 8400, "targetPort": "http"}]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "portal"
    assert "sessionAffinity" not in service["spec"]
    documents = template({"portal": {"replicas": 3, "service": {"port": 9400}}})
    service = one(documents, "Service", "brain-portal")
    assert service["spec"]["sessionAffinity"] == "ClientIP"  # sessions live in one pod's memory
    assert one(documents, "Deployment", "brain-portal")["spec"]["replicas"] == 3
    assert arguments().parse_args(portal_container(documents)["args"]).port == 9400


def test_portal_values_and_turning_it_off() -> None:
    values = {
        "portal": {
            "centreUrl": "https://centre.example.gov.cn",
            "schedulerUrl": "http://scheduler-api.ops:8300",
            "secureCookies": False,
            "image": "registry.example/portal:1",
        }
    }
    container = portal_container(template(values))
    args = arguments().parse_args(container["args"])
    assert (args.centre, args.scheduler, args.secure_cookies) == (
        "https://centre.example.gov.cn",
        "http://scheduler-api.ops:8300",
        False,
    )
    assert container["image"] == "registry.example/portal:1"
    off = template({"portal": {"enabled": False}})
    assert not [d for d in off if "portal" in d["metadata"]["name"]]
    centre_policy = one(off, "NetworkPolicy", "brain-ray-capability-centre")
    assert "portal" not in yaml.safe_dump(centre_policy)


def test_helm_refuses_a_misspelt_portal_value() -> None:
    from deploy.k8s import K8sSpecError

    with pytest.raises(K8sSpecError, match="centreURL"):
        template({"portal": {"centreURL": "http://x"}})


# --- the OIP gRPC port of the capability centre (#15) -----------------------------------------------


def test_the_serve_config_serves_oip_over_grpc() -> None:
    service = one(template(), "RayService", "brain-capability-centre")
    config = yaml.safe_load(service["spec"]["serveConfigV2"])
    assert config["grpc_options"] == {
        "port": 8001,
        "grpc_servicer_functions": [SERVICER_FUNCTION],  # the centre's own servicer, named in one place
        "enable_reflection": False,
    }
    schema = ServeDeploySchema.model_validate(config)
    assert schema.grpc_options.port == 8001


def test_the_centres_service_and_pods_publish_the_grpc_port() -> None:
    service = one(template(), "RayService", "brain-capability-centre")
    assert_valid(service)
    serve_service = service["spec"]["serveService"]
    assert serve_service["metadata"]["name"] == "brain-capability-centre-serve-svc"
    ports = {p["name"]: (p["port"], p.get("appProtocol")) for p in serve_service["spec"]["ports"]}
    assert ports == {"serve": (8000, None), "grpc": (8001, "grpc")}
    cluster = service["spec"]["rayClusterConfig"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        container = group["template"]["spec"]["containers"][0]
        assert {"name": "grpc", "containerPort": 8001} in container["ports"]


def test_grpc_port_zero_turns_grpc_off() -> None:
    service = one(template({"capabilityCentre": {"grpcPort": 0}}), "RayService", "brain-capability-centre")
    assert_valid(service)
    assert "grpc_options" not in yaml.safe_load(service["spec"]["serveConfigV2"])
    assert [p["name"] for p in service["spec"]["serveService"]["spec"]["ports"]] == ["serve"]
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert "grpc" not in {p["name"] for p in head["ports"]}


def test_centres_that_run_tenants_jobs_publish_no_grpc_port() -> None:
    for cluster in [d for d in template() if d["kind"] == "RayCluster"]:
        for group in [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]:
            names = {p["name"] for p in group["template"]["spec"]["containers"][0]["ports"]}
            assert "grpc" not in names and "serve" not in names
