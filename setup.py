"""Build step beyond pyproject.toml: the Helm chart goes into the wheel.

The chart's one home is helm/industry-brain (`helm install` takes it from a checkout), outside every Python
package; `brain deploy` renders it, so an installed wheel carries a copy at deploy/k8s/helm/industry-brain,
where deploy/k8s/chart.py looks when there is no checkout around it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CHART = Path(__file__).resolve().parent / "helm" / "industry-brain"


class BuildWithChart(build_py):
    def run(self) -> None:
        super().run()
        if not self.dry_run and CHART.is_dir():
            target = Path(self.build_lib) / "deploy" / "k8s" / "helm" / "industry-brain"
            shutil.copytree(CHART, target, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithChart})
