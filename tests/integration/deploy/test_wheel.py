"""The built wheel carries what an installed platform reads besides Python: the Helm chart that
`brain deploy` renders and the portal's pages. Built from a copy of the sources (the checkout gets no
build/), unpacked (a pure wheel is its files) and run with nothing of the checkout on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from tests.conftest import ROOT

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
PACKAGES = ("scheduler", "model_hub", "components", "deploy", "helm")

PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import httpx
    import yaml
    from typer.testing import CliRunner

    import deploy
    from deploy.cli.k8s import deploy_app as app
    from deploy.k8s.chart import CHART
    from deploy.portal import build_portal

    installed = Path(sys.argv[1])
    assert Path(deploy.__file__).is_relative_to(installed), deploy.__file__
    assert CHART == installed / "deploy" / "k8s" / "helm" / "industry-brain", CHART
    result = CliRunner().invoke(app, ["render-manifests", "--release", "wheel"])
    assert result.exit_code == 0, result.output
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(result.stdout) if d and "kind" in d)
    print("rendered", kinds)
    closed = "http://127.0.0.1:9"
    """
)


def test_the_wheel_carries_the_chart_and_the_portals_pages(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        shutil.copy2(ROOT / name, source / name)
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("node_modules", "__pycache__")
        )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", "dist"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (source / "dist").glob("industry_brain-*.whl")
    installed = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(installed)
    assert "deploy/k8s/helm/industry-brain/Chart.yaml" in names
    assert "deploy/k8s/helm/industry-brain/templates/portal.yaml" in names
    assert "deploy/portal/templates/catalogue.html" in names and "deploy/portal/static/charts.js" in names

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(installed)}
    run = subprocess.run(
        [sys.executable, "-c", PROBE + PAGE, str(installed)],
        cwd=tmp_path,  # not the checkout: its helm/ and packages must not be found
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "RayService" in run.stdout and "login form ok" in run.stdout, run.stdout


# The portal from the wheel renders its login page (its templates and static files are package data).
PAGE = textwrap.dedent(
    """
    import asyncio

    async def login_page() -> None:
        transport = httpx.ASGITransport(app=build_portal(closed, closed))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as browser:
            page = await browser.get("/login")
            style = await browser.get("/static/portal.css")
        assert page.status_code == 200 and 'name="csrf"' in page.text, page.text[:300]
        assert style.status_code == 200

    asyncio.run(login_page())
    print("login form ok")
    """
)
