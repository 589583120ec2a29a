"""A registration killed (SIGKILL) in the middle, at the three points between its four writes — artifacts,
then the version, then its signature, then the catalogue entry (issue #12, scenario 6): never a version
without its artifacts; what is left is repaired by a new registration, by an operator's `brain components
sign` (a version whose signature was never written) or by `reindex`.

The registering process is real and really killed; what makes the moment exact is the child script, which
has the process kill itself on entering the named step (nothing in the platform's code is replaced)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from model_hub import HubSettings, ManifestUnsigned, Registry
from tests import onnx_models
from tests.cards import make_card

ROOT = Path(__file__).resolve().parents[3]

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    from mlflow import MlflowClient
    from model_hub import HubSettings, Registry
    from model_hub.catalog import Catalog
    from tests import onnx_models
    from tests.cards import make_card

    step = sys.argv[2]
    owner = Catalog if step == "upsert" else MlflowClient
    real = getattr(owner, step)

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # the process dies here, before this step writes anything
        return real(*args, **kwargs)

    setattr(owner, step, killed)
    registry = Registry(HubSettings(home=Path(sys.argv[1])))
    registry.register_onnx(make_card(), onnx_models.linear(seed=1))
    """
)


def _register_killed_at(home: Path, step: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(home), step], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


@pytest.mark.parametrize("step", ["create_model_version", "set_model_version_tag", "upsert"])
def test_a_registration_killed_midway_leaves_nothing_half_written_and_is_repaired(
    tmp_path: Path, step: str
) -> None:
    home = tmp_path / "home"
    name = make_card().name
    _register_killed_at(home, step)
    registry = Registry(HubSettings(home=home))
    try:
        if step == "create_model_version":
            # Killed after the artifacts, before the version: a registered model without versions, which
            # a new registration completes; no version exists that could lack its files.
            assert registry.count_registered() == 1 and registry.store.raw_versions(name) == []
            assert registry.catalog.count() == 0  # and no catalogue entry without a version
            registry.register_onnx(make_card(), onnx_models.linear(seed=1))
        elif step == "set_model_version_tag":
            # Killed after the version, before its signature (which binds the number MLflow drew): the
            # version is whole but unsigned, refused at load until an operator signs it (after checking
            # its artifacts); its catalogue entry comes with the next sync.
            with pytest.raises(ManifestUnsigned, match=f"brain components sign {name} --version 1"):
                registry.load(name)
            registry.sign(name, 1)
            assert registry.sync(full=True) == 1
        else:
            # Killed after the version, before the catalogue: the version is whole, the catalogue lacks it
            # until the next sync (what `brain components reindex` and `brain components list` run).
            assert [v.version for v in registry.versions(name)] == [1]
            assert registry.catalog.count() == 0
            assert registry.sync(full=True) == 1
        assert [v.version for v in registry.versions(name)] == [1]
        assert registry.load(name).path.is_dir()  # its artifacts verified against the signed manifest
        assert registry.catalog.count() == registry.count_registered() == 1
    finally:
        registry.close()
