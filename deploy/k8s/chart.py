"""The Helm chart ``helm/industry-brain``, rendered in-process by Helm's own Go SDK.

The chart is the one source of the platform's Kubernetes objects; Python only reads what it renders.
Rendering goes through helm-python-sdk (a ctypes binding of Helm's Go SDK, shipped with the library in its
wheels): it needs no helm binary, no cluster and no network, which is what `brain deploy` promises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import yaml

from deploy.k8s.errors import K8sSpecError


def _chart() -> Path:
    """The chart of a source checkout (helm/industry-brain beside the packages, its one home), else the
    copy an installed wheel carries inside this package (setup.py puts it there)."""
    checkout = Path(__file__).resolve().parents[2] / "helm" / "industry-brain"
    packaged = Path(__file__).resolve().parent / "helm" / "industry-brain"
    return checkout if (checkout / "Chart.yaml").is_file() or not packaged.is_dir() else packaged


CHART = _chart()
"""The chart `brain deploy` renders: the checkout's, or the installed wheel's copy."""

DEFAULT_NAMESPACE = "industry-brain"


def render_chart(
    values: dict[str, Any], release: str, namespace: str = DEFAULT_NAMESPACE, chart: Path = CHART
) -> list[dict[str, Any]]:
    """Every object `helm template RELEASE CHART --namespace NAMESPACE` prints for these values, parsed, in
    the order of the chart's files and, within a file, as the template writes them (NOTES.txt left out)."""
    if not (chart / "Chart.yaml").is_file():
        raise K8sSpecError(
            f"the Helm chart is not at {chart}; reinstall the package (its wheel carries the chart) or run "
            f"`brain deploy` from a checkout of the project, which holds it in helm/industry-brain"
        )
    try:
        with helm_python.Chart.load(str(chart)) as loaded:
            rendered = loaded.render(values, name=release, namespace=namespace)
    except helm_python.HelmError as exc:
        # Helm's message names the value (schema) or the template's own `fail` text.
        raise K8sSpecError(f"the chart refused the values: {exc}") from None
    return [
        document
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt")
        for document in yaml.safe_load_all(text)
        if document
    ]
