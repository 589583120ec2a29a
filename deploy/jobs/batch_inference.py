"""Batch inference on Ray Data: ``python -m deploy.jobs.batch_inference --params JSON [--job-id ID]``.

The driver loads the component version from the model hub (`Registry.load` verifies its artifact
against the registry's sha256), ships the ONNX bytes to the Ray Data workers, which open it once per
worker and run it in `map_batches`. The output (kept columns + one column per output tensor; a
[-1, k] output becomes k columns ``name_0 … name_{k-1}``) is written as Parquet to ``output``, with
``output/_summary.json``: rows, component, version, seconds.

Run by the scheduler for a tenant (``BRAIN_JOB_TENANT``), it loads only a component that tenant may
see, and answers for an invisible one exactly as for a missing one.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

from deploy.centre.errors import NotFound
from deploy.tenancy import TenantStore, can_see
from model_hub import ComponentNotFound, Registry
from model_hub.sessions import onnx_session
from scheduler.backends.ray_jobs import TENANT_ENV
from scheduler.kinds.params import BatchInferenceParams
from scheduler.kinds.runtime import JobResources, read_table, run_program, write_json


class Predictor:
    """One ONNX session per Ray Data worker."""

    def __init__(self, model: bytes, columns: dict[str, str | list[str]], keep: list[str]) -> None:
        self.session = onnx_session(model)
        self.columns = columns
        self.keep = keep
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        inputs: dict[str, np.ndarray] = {}
        for name, cols in self.columns.items():
            inputs[name] = batch[cols].to_numpy(dtype=np.float32)  # a list of columns: [-1, k]
        out = batch[self.keep].reset_index(drop=True) if self.keep else pd.DataFrame(index=range(len(batch)))
        for name, values in zip(self.outputs, self.session.run(self.outputs, inputs), strict=True):
            values = np.asarray(values)
            if values.ndim == 1:
                out[name] = values
            else:
                for i in range(values.reshape(len(batch), -1).shape[1]):
                    out[f"{name}_{i}"] = values.reshape(len(batch), -1)[:, i]
        return out


def check_visible(registry: Registry, component: str, tenant_name: str, tenants: TenantStore) -> None:
    """Exit unless tenant `tenant_name` may see `component`; a missing and an invisible one read alike."""
    try:
        card = registry.card(component)
        tenant = tenants.get_tenant(tenant_name)
        visible = can_see(tenant, owner=card.owner, visibility=card.visibility, industries=card.industries)
    except (ComponentNotFound, NotFound):
        visible = False
    if not visible:
        raise SystemExit(
            f"component {component!r} does not exist or is not visible to tenant {tenant_name!r}; "
            "`GET /api/v1/components` lists what it can use"
        )


def run(params: BatchInferenceParams, job_id: str | None, resources: JobResources) -> dict[str, Any]:
    started = time.perf_counter()
    registry = Registry()
    try:
        tenant = os.environ.get(TENANT_ENV)
        if tenant:
            tenants = TenantStore.open()
            try:
                check_visible(registry, params.component, tenant, tenants)
            finally:
                tenants.engine.dispose()
        loaded = registry.load(params.component, params.version)
    finally:
        registry.close()
    if loaded.version.format != "onnx":
        raise SystemExit(
            f"{params.component} version {loaded.version.version} is {loaded.version.format!r}; batch "
            "inference runs ONNX versions"
        )
    card_inputs = [s.name for s in loaded.card.inputs]
    if sorted(params.columns) != sorted(card_inputs):
        raise SystemExit(f"columns names {sorted(params.columns)}; the card's inputs are {card_inputs}")
    resources.limit_ray_data()
    args = resources.remote_args()
    source = read_table(params.input.path, params.input.resolved_format, resources)
    workers = max(1, int(resources.total("CPU")))
    predicted = source.map_batches(
        Predictor,
        fn_constructor_kwargs={
            "model": loaded.onnx_path.read_bytes(),
            "columns": dict(params.columns),
            "keep": list(params.keep),
        },
        batch_size=params.batch_size,
        batch_format="pandas",
        concurrency=workers,
        num_cpus=1,
        **args,
    ).materialize()
    rows = predicted.count()
    predicted.write_parquet(params.output, ray_remote_args=args)
    summary = {
        "job_id": job_id,
        "component": params.component,
        "version": loaded.version.version,
        "input": params.input.path,
        "output": params.output,
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json(os.path.join(params.output, "_summary.json"), summary)
    return summary


def main() -> int:
    return run_program("deploy.jobs.batch_inference", BatchInferenceParams, run)


if __name__ == "__main__":
    raise SystemExit(main())
