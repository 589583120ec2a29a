"""The chart's network exposure: Ray token auth on every Ray object, NetworkPolicies that say who reaches
what, MLflow and PostgreSQL for platform pods only, no database URL in the pods that run tenants' jobs.

A NetworkPolicy is evaluated here the way Kubernetes does (a pod selected by some ingress policy accepts a
connection only if one of their rules admits its source and port; a pod selected by some egress policy opens
one only if one of their rules admits its destination and port), over the pods the chart's templates
describe, so the tests state reachability rather than the shape of the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from deploy.k8s import render_chart
from tests.unit.deploy.k8s.crd import assert_valid

RELEASE = "brain"
NAMESPACE = "industry-brain"


def template(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render_chart(values or {}, RELEASE, NAMESPACE)


@dataclass(frozen=True)
class Pod:
    """A pod as a NetworkPolicy sees it: its namespace's labels and its own."""

    name: str
    labels: dict[str, str]
    namespace: str = NAMESPACE

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace}


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels is evaluated here: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_admits(peer: dict[str, Any], source: Pod) -> bool:
    assert "ipBlock" not in peer
    if "namespaceSelector" in peer:
        in_namespace = _matches(peer["namespaceSelector"], source.namespace_labels)
    else:
        in_namespace = source.namespace == NAMESPACE
    return in_namespace and _matches(peer.get("podSelector", {}), source.labels)


def _allowed(
    documents: list[dict[str, Any]], direction: str, selected: Pod, peer: Pod, port: int, protocol: str
) -> bool:
    """Whether the policies of ``direction`` (Ingress or Egress) that select ``selected`` admit ``peer``."""
    policies = [
        d
        for d in documents
        if d["kind"] == "NetworkPolicy"
        and direction in d["spec"].get("policyTypes", ["Ingress"])
        and _matches(d["spec"]["podSelector"], selected.labels)
    ]
    if not policies:
        return True
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in policies:
        for rule in policy["spec"].get(key, []):
            assert rule.get(peers), f"{policy['metadata']['name']}: a rule without `{peers}` admits everyone"
            ports = {(p["port"], p.get("protocol", "TCP")) for p in rule.get("ports", [])}
            if ports and (port, protocol) not in ports:
                continue
            if any(_peer_admits(p, peer) for p in rule[peers]):
                return True
    return False


def reaches(
    documents: list[dict[str, Any]], source: Pod, target: Pod, port: int, protocol: str = "TCP"
) -> bool:
    """Whether ``source`` may open a connection to ``target``:``port`` under the rendered policies: the
    source's egress policies and the target's ingress policies must both admit it."""
    return _allowed(documents, "Egress", source, target, port, protocol) and _allowed(
        documents, "Ingress", target, source, port, protocol
    )


def ray_pods(documents: list[dict[str, Any]]) -> dict[str, Pod]:
    """Every Ray pod template of the release, by '<cluster>/<group>' (the labels KubeRay gives the pods)."""
    pods = {}
    for d in documents:
        if d["kind"] == "RayService":
            cluster, spec = "capability-centre", d["spec"]["rayClusterConfig"]
        elif d["kind"] == "RayCluster":
            cluster, spec = d["metadata"]["labels"]["industry-brain.io/centre"], d["spec"]
        else:
            continue
        head = spec["headGroupSpec"]["template"]["metadata"]["labels"]
        pods[f"{cluster}/head"] = Pod(f"{cluster}/head", head)
        for group in spec["workerGroupSpecs"]:
            name = f"{cluster}/{group['groupName']}"
            pods[name] = Pod(name, group["template"]["metadata"]["labels"])
    return pods


def pod_of(documents: list[dict[str, Any]], kind: str, component: str) -> Pod:
    found = next(
        d
        for d in documents
        if d["kind"] == kind and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    )
    return Pod(component, found["spec"]["template"]["metadata"]["labels"])


SELECTOR = {"app.kubernetes.io/name": "industry-brain", "app.kubernetes.io/instance": RELEASE}
INGRESS = Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, namespace="ingress-nginx")
SCHEDULER = Pod("scheduler", {**SELECTOR, "app.kubernetes.io/component": "scheduler"})
KUBERAY = Pod("kuberay", {"app.kubernetes.io/name": "kuberay-operator"}, namespace="kuberay-system")
PROMETHEUS = Pod("prometheus", {"app.kubernetes.io/name": "prometheus"}, namespace="monitoring")
# Anything else: a pod in the release's namespace with none of the labels the policies name.
STRANGER = Pod("stranger", {"app": "something-else"})


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return template()


def test_every_ray_object_has_token_auth(documents: list[dict[str, Any]]) -> None:
    ray_objects = [d for d in documents if d["kind"] in ("RayService", "RayCluster")]
    assert len(ray_objects) == 3
    for manifest in ray_objects:
        spec = manifest["spec"]["rayClusterConfig"] if manifest["kind"] == "RayService" else manifest["spec"]
        assert spec["authOptions"]["mode"] == "token", manifest["metadata"]["name"]
        assert_valid(manifest)


def test_only_the_ingress_reaches_the_capability_centres_serve_port(documents: list[dict[str, Any]]) -> None:
    pods = ray_pods(documents)
    centre_pods = [p for n, p in pods.items() if n.startswith("capability-centre/")]
    tenant_pods = [p for n, p in pods.items() if not n.startswith("capability-centre/")]
    assert centre_pods and tenant_pods
    for target in centre_pods:
        assert reaches(documents, INGRESS, target, 8000)
        for source in [*tenant_pods, STRANGER, SCHEDULER]:
            for port in (8000, 8265, 6379, 10001, 52365):
                assert not reaches(documents, source, target, port), (source.name, target.name, port)
        assert not reaches(documents, INGRESS, target, 8265)
        assert not reaches(documents, INGRESS, target, 6379)


def test_only_the_scheduler_and_kuberay_reach_the_centres_jobs_api(documents: list[dict[str, Any]]) -> None:
    pods = ray_pods(documents)
    for name, target in pods.items():
        cluster = name.split("/")[0]
        assert reaches(documents, KUBERAY, target, 8265)
        if cluster != "capability-centre":
            assert reaches(documents, SCHEDULER, target, 8265)
            assert not reaches(documents, SCHEDULER, target, 6379)
        for source_name, source in pods.items():
            same = source_name.split("/")[0] == cluster
            # A cluster's own pods talk on every port; another cluster's pods (a tenant's job) on none.
            assert reaches(documents, source, target, 6379) == same, (source_name, name)
            assert reaches(documents, source, target, 8265) == same, (source_name, name)
        for source in (STRANGER, INGRESS):
            assert not reaches(documents, source, target, 8265)


def test_prometheus_reaches_metrics_ports_only(documents: list[dict[str, Any]]) -> None:
    for target in ray_pods(documents).values():
        assert reaches(documents, PROMETHEUS, target, 8080)
        assert not reaches(documents, PROMETHEUS, target, 8265)
        assert not reaches(documents, PROMETHEUS, target, 6379)


def test_only_platform_pods_reach_postgresql_and_mlflow(documents: list[dict[str, Any]]) -> None:
    postgresql = pod_of(documents, "StatefulSet", "postgresql")
    mlflow = pod_of(documents, "Deployment", "mlflow")
    pods = ray_pods(documents)
    platform = [
        *[p for n, p in pods.items() if n.startswith("capability-centre/")],
        mlflow,
        pod_of(documents, "Job", "migrations"),
        SCHEDULER,
    ]
    tenants = [p for n, p in pods.items() if not n.startswith("capability-centre/")]
    for source in platform:
        assert reaches(documents, source, postgresql, 5432), source.name
        assert reaches(documents, source, mlflow, 5000), source.name
    for source in [*tenants, STRANGER, INGRESS, KUBERAY, PROMETHEUS]:
        assert not reaches(documents, source, postgresql, 5432), source.name
        assert not reaches(documents, source, mlflow, 5000), source.name


def test_more_mlflow_peers_and_empty_lists_admit_nobody_else() -> None:
    operators = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}
    documents = template(
        {"networkPolicy": {"mlflowFrom": [operators], "ingressFrom": [], "monitoringFrom": []}}
    )
    mlflow = pod_of(documents, "Deployment", "mlflow")
    assert reaches(documents, Pod("ui", {}, namespace="ops"), mlflow, 5000)
    for target in ray_pods(documents).values():
        for port in (8000, 8080):
            assert not reaches(documents, INGRESS, target, port)
            assert not reaches(documents, PROMETHEUS, target, port)


def test_policies_can_be_left_to_the_cluster() -> None:
    assert not [d for d in template({"networkPolicy": {"enabled": False}}) if d["kind"] == "NetworkPolicy"]


def _env_names(pod_spec: dict[str, Any]) -> set[str]:
    return {e["name"] for c in pod_spec["containers"] for e in c.get("env", [])}


def _secret_refs(pod_spec: dict[str, Any]) -> set[str]:
    return {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in pod_spec["containers"]
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def test_no_database_secret_where_tenants_jobs_run(documents: list[dict[str, Any]]) -> None:
    for d in documents:
        if d["kind"] != "RayCluster":
            continue
        groups = [d["spec"]["headGroupSpec"], *d["spec"]["workerGroupSpecs"]]
        for group in groups:
            pod_spec = group["template"]["spec"]
            assert "BRAIN_DATABASE_URL" not in _env_names(pod_spec)
            assert not _secret_refs(pod_spec), d["metadata"]["name"]
            assert "industry-brain.io/platform" not in group["template"]["metadata"]["labels"]
    # The capability centre's pods run the Serve replicas, which check keys and meter usage: they need it.
    service = next(d for d in documents if d["kind"] == "RayService")["spec"]["rayClusterConfig"]
    for group in [service["headGroupSpec"], *service["workerGroupSpecs"]]:
        assert _secret_refs(group["template"]["spec"]) == {"industry-brain-db"}


def test_mlflow_listens_only_behind_its_policy(documents: list[dict[str, Any]]) -> None:
    """MLflow binds 0.0.0.0 inside its pod (its Service must reach it) and proxies artifacts; its policy is
    what keeps tenants out, so the default render always has it."""
    policies = {d["metadata"]["name"] for d in documents if d["kind"] == "NetworkPolicy"}
    assert "brain-mlflow" in policies
    mlflow = next(d for d in documents if d["kind"] == "Deployment")
    args = mlflow["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--serve-artifacts" in args


# --- the portal and the OIP gRPC port ----------------------------------------------------------------

KUBE_DNS = Pod("kube-dns", {"k8s-app": "kube-dns"}, namespace="kube-system")


def test_users_reach_the_portal_through_the_ingress_only(documents: list[dict[str, Any]]) -> None:
    portal = pod_of(documents, "Deployment", "portal")
    assert reaches(documents, INGRESS, portal, 8400)
    tenants = [p for n, p in ray_pods(documents).items() if not n.startswith("capability-centre/")]
    for source in [*tenants, STRANGER, SCHEDULER, PROMETHEUS]:
        assert not reaches(documents, source, portal, 8400), source.name


def test_the_portal_reaches_the_centres_rest_port_the_scheduler_and_dns_only(
    documents: list[dict[str, Any]],
) -> None:
    portal = pod_of(documents, "Deployment", "portal")
    pods = ray_pods(documents)
    centre = [p for n, p in pods.items() if n.startswith("capability-centre/")]
    for target in centre:
        assert reaches(documents, portal, target, 8000), target.name
        for port in (8001, 8265, 6379, 8080, 10001):
            assert not reaches(documents, portal, target, port), (target.name, port)
    assert reaches(documents, portal, SCHEDULER, 8300)
    assert not reaches(documents, portal, SCHEDULER, 8265)
    assert reaches(documents, portal, KUBE_DNS, 53, "UDP") and reaches(documents, portal, KUBE_DNS, 53)
    # It holds users' keys: nothing else, neither the databases, MLflow, the centres nor the world.
    assert not reaches(documents, portal, pod_of(documents, "StatefulSet", "postgresql"), 5432)
    assert not reaches(documents, portal, pod_of(documents, "Deployment", "mlflow"), 5000)
    for name, target in pods.items():
        if not name.startswith("capability-centre/"):
            for port in (8265, 6379, 8000):
                assert not reaches(documents, portal, target, port), (name, port)
    assert not reaches(documents, portal, STRANGER, 443)
    assert not reaches(documents, portal, Pod("dns-elsewhere", {"k8s-app": "kube-dns"}, "tenant-ns"), 53)


def test_where_portal_users_come_from_is_configurable() -> None:
    office = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gov-gateway"}}}
    documents = template({"networkPolicy": {"portalFrom": [office]}})
    portal = pod_of(documents, "Deployment", "portal")
    assert reaches(documents, Pod("gateway", {}, namespace="gov-gateway"), portal, 8400)
    assert not reaches(documents, INGRESS, portal, 8400)
    closed = template({"networkPolicy": {"portalFrom": []}})  # an empty list admits nobody
    assert not reaches(closed, INGRESS, pod_of(closed, "Deployment", "portal"), 8400)


def test_the_ingress_reaches_the_centres_grpc_port_and_nobody_else(documents: list[dict[str, Any]]) -> None:
    pods = ray_pods(documents)
    tenants = [p for n, p in pods.items() if not n.startswith("capability-centre/")]
    portal = pod_of(documents, "Deployment", "portal")
    for name, target in pods.items():
        if name.startswith("capability-centre/"):
            assert reaches(documents, INGRESS, target, 8001), name
            for source in [*tenants, STRANGER, SCHEDULER, PROMETHEUS, portal]:
                assert not reaches(documents, source, target, 8001), (source.name, name)
    moved = template({"capabilityCentre": {"grpcPort": 9001}})
    for name, target in ray_pods(moved).items():
        if name.startswith("capability-centre/"):
            assert reaches(moved, INGRESS, target, 9001) and not reaches(moved, INGRESS, target, 8001)
    off = template({"capabilityCentre": {"grpcPort": 0}})
    for name, target in ray_pods(off).items():
        assert not reaches(off, INGRESS, target, 8001), name
