"""The batch-inference program loads only a component its job's tenant may see (a real registry and a
real tenancy store): a private component of another tenant reads exactly like a missing one."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.jobs.batch_inference import check_visible
from deploy.settings import PlatformSettings
from deploy.tenancy import TenantKind, TenantSpec, TenantStore
from model_hub import HubSettings, Registry
from tests import onnx_models
from tests.cards import make_card


def test_batch_inference_checks_the_tenants_visibility(tmp_path: Path) -> None:
    registry = Registry(HubSettings(home=tmp_path / "hub"))
    tenants = TenantStore.open(PlatformSettings(home=tmp_path))
    try:
        for name, industry in (("lubei-chem", "high-end-chemicals"), ("shantui", "construction-machinery")):
            spec = TenantSpec(name=name, display=name, kind=TenantKind.enterprise, industries=[industry],
                              city="jinan")  # fmt: skip
            tenants.create_tenant(spec, actor="test")
        card = make_card(owner="lubei-chem", visibility="private")
        registry.register_onnx(card, onnx_models.linear())
        check_visible(registry, card.name, "lubei-chem", tenants)  # its owner
        with pytest.raises(
            SystemExit, match="does not exist or is not visible to tenant 'shantui'"
        ) as hidden:
            check_visible(registry, card.name, "shantui", tenants)
        with pytest.raises(SystemExit) as missing:
            check_visible(registry, "no-such-thing", "shantui", tenants)
        assert str(missing.value).replace("no-such-thing", card.name) == str(hidden.value)
        with pytest.raises(SystemExit, match="not visible to tenant 'nobody'"):
            check_visible(registry, card.name, "nobody", tenants)
    finally:
        registry.close()
        tenants.engine.dispose()
