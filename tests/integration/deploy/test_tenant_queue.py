"""A new tenant gets its leaf queue in the scheduler (under its industry brain's queue), so its first job is
accepted; an operator's queue for it is kept. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from deploy.cli.platform import ensure_starter_queues
from deploy.cli.tenancy import tenants_app
from deploy.settings import PlatformSettings
from deploy.tenancy import Tenant, TenantKind
from deploy.tenancy.queues import ensure_tenant_queue
from scheduler.control import SchedulerControl
from scheduler.settings import SchedulerSettings
from scheduler.spec import AmountSpec, ClusterPoolSpec, QueueSpec
from scheduler.store import SchedulerStore


def _tenant(name: str, industry: str = "high-end-chemicals") -> Tenant:
    return Tenant(name, name, TenantKind.enterprise, (industry,), "binzhou", datetime.now(UTC))


def test_a_new_tenant_gets_a_queue_under_its_industry_brain(db_url: str, tmp_path: Path) -> None:
    store = SchedulerStore.open(url=db_url)
    try:
        settings = PlatformSettings(home=tmp_path, tenant_queue_guaranteed={"cpu": 2})
        leaf = ensure_tenant_queue(store, _tenant("lubei-chem"), settings)
        assert (leaf.name, leaf.parent, leaf.tenant) == (
            "lubei-chem",
            "brain-high-end-chemicals",
            "lubei-chem",
        )
        assert leaf.guaranteed == AmountSpec(cpu=2)
        ensure_tenant_queue(store, _tenant("qilu-chem"), settings)  # the same industry brain
        ensure_tenant_queue(store, _tenant("shantui", "construction-machinery"), settings)
        tree = {q.name: q.parent for q in store.queue_specs()}
        assert tree == {
            "shandong": None,
            "brain-high-end-chemicals": "shandong",
            "brain-construction-machinery": "shandong",
            "lubei-chem": "brain-high-end-chemicals",
            "qilu-chem": "brain-high-end-chemicals",
            "shantui": "brain-construction-machinery",
        }
        # Its first job is not refused with "tenant has no queue".
        store.put_pool(ClusterPoolSpec(name="p", city="binzhou", address="http://127.0.0.1:1",
                                       nodes=[{"cpu": 8, "memory_mib": 8192}]))  # fmt: skip
        control = SchedulerControl(store, SchedulerSettings(home=tmp_path))
        job = control.submit({"tenant": "lubei-chem", "entrypoint": "/usr/bin/true"})
        assert job.queue == "lubei-chem"
        # An operator's own queue for a tenant (with its quota) is kept as it is.
        store.put_queues([QueueSpec(name="weifang", parent="shandong", tenant="weifang-agri",
                                    guaranteed=AmountSpec(cpu=64))])  # fmt: skip
        kept = ensure_tenant_queue(store, _tenant("weifang-agri", "modern-agriculture"), settings)
        assert kept.name == "weifang" and kept.guaranteed == AmountSpec(cpu=64)
    finally:
        store.close()


def test_brain_tenants_create_makes_the_queue(brain_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["create", "lubei-chem", "--display", "鲁北化工", "--kind", "enterprise",
            "--industry", "high-end-chemicals", "--city", "binzhou", "--json"]  # fmt: skip
    out = CliRunner().invoke(tenants_app, args)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["queue"] == "lubei-chem"
    # `brain up` after it still gives the operator tenant its queue in the same tree.
    ensure_starter_queues()
    store = SchedulerStore.open(SchedulerSettings(home=brain_home))
    try:
        queues = {q.tenant: q.parent for q in store.queue_specs() if q.tenant}
        assert queues == {"lubei-chem": "brain-high-end-chemicals", "platform": "shandong"}
        assert store.queue_tree() is not None
    finally:
        store.close()


def test_brain_audit_shows_what_the_cli_changed(brain_home: Path) -> None:
    runner = CliRunner()
    args = ["tenants", "create", "qilu-chem", "--display", "齐鲁石化", "--kind", "enterprise",
            "--industry", "high-end-chemicals", "--city", "zibo", "--actor", "ops-zhang"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    shown = runner.invoke(app, ["audit", "--target", "qilu-chem", "--json"])
    assert shown.exit_code == 0, shown.output
    entries = json.loads(shown.output)
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("tenant.create", "ops-zhang", "qilu-chem")
    ]
    assert json.loads(runner.invoke(app, ["audit", "--action", "key.", "--json"]).output) == []
    table = runner.invoke(app, ["audit"])
    assert table.exit_code == 0 and "tenant.create" in table.output
    assert runner.invoke(app, ["audit", "--limit", "0"]).exit_code != 0
