"""Training a built-in component: ``python -m deploy.jobs.train --params JSON [--job-id ID]``.

Every built-in can be trained by this one program (the ``training`` kind), in one of two ways:

- A `components.base.TrainableComponent` has its network fitted by a `TorchTrainer`, with one worker
  per bundle of the job (data-parallel, gloo on CPU, NCCL on GPUs). The data is a CSV or Parquet
  table with the component's columns, of which a seeded 20 % is held out for the evaluation, or the
  component's synthetic generator with its own held-out rows. The workers read their shards from a
  Ray Dataset; worker 0 checkpoints the network every epoch under ``output/ray-train/NAME``, so a
  retried attempt of the same job (same name) resumes from its last epoch. The driver then evaluates
  the network against the component's baseline and writes ``output/model.pt`` (the state dict).
- Any other built-in is fitted by its own ``train(seed)`` (it generates its own data, so only a
  ``synthetic`` source is accepted), in one Ray task on the job's first bundle.

Both write ``output/metrics.json`` (the same keys; what a path does not have is null or empty) and,
with ``register``, register the result as a new version of the component with the job id as lineage
(`components.publish.register_trained`). The version is not promoted: production stays what it was
until someone promotes the new one (`brain components train` does, as `brain up` would).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from components.base import BuiltinComponent, TrainableComponent, Trained
from components.catalog import BUILTINS, builtin, trainable
from components.training import Optimiser
from scheduler.kinds.params import TrainingParams
from scheduler.kinds.runtime import JobResources, read_table, run_program, write_json

HOLD_OUT = 0.2
_MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"


def load_data(
    params: TrainingParams, component: TrainableComponent, resources: JobResources
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(train, test, what the test rows are) from the job's table or the component's generator."""
    if params.data.synthetic is not None:
        rows, seed = params.data.synthetic.rows, params.data.synthetic.seed
        return component.synthetic(rows, seed), component.held_out(rows, seed), "held-out synthetic rows"
    source = params.data.table
    assert source is not None
    table = read_table(source.path, source.resolved_format, resources).to_pandas()
    missing = [c for c in component.columns if c not in table.columns]
    if missing:
        raise SystemExit(
            f"{source.path} lacks the columns {', '.join(missing)}; {component.name} trains on "
            f"{', '.join(component.columns)}"
        )
    table = table[list(component.columns)].dropna().reset_index(drop=True)
    if len(table) < 10:
        raise SystemExit(f"{source.path} has {len(table)} complete rows; training needs at least 10")
    order = np.random.default_rng(0).permutation(len(table))
    cut = max(1, int(len(table) * HOLD_OUT))
    test, train = table.iloc[order[:cut]], table.iloc[order[cut:]]
    return train.reset_index(drop=True), test.reset_index(drop=True), f"held-out 20 % of {source.path}"


def train_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: its shard of the table, the shared network, one report per epoch."""
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.set_num_threads(config["threads"])
    torch.manual_seed(config["seed"])  # the same initial weights on every worker
    component = trainable(config["component"])
    network = component.network()
    first_epoch, history = 0, []
    resumed = ray.train.get_checkpoint()
    if resumed is not None:
        with resumed.as_directory() as folder:
            state = torch.load(Path(folder) / "state.pt", weights_only=True)
        network.load_state_dict(state["network"])
        first_epoch, history = state["epoch"] + 1, state["history"]
    model = ray.train.torch.prepare_model(component.training_view(network))
    optimiser = Optimiser(
        model,
        lr=config["learning_rate"],
        weight_decay=1e-4,
        total_steps=config["epochs"] * config["steps_per_epoch"],
    )
    shard = ray.train.get_dataset_shard("train")
    for epoch in range(first_epoch, config["epochs"]):
        model.train()
        total = torch.zeros(2, dtype=torch.float64)  # loss × rows, rows
        for columns in shard.iter_torch_batches(
            batch_size=config["batch_size"],
            dtypes=torch.float32,
            local_shuffle_buffer_size=config["batch_size"] * 4,
            local_shuffle_seed=config["seed"] + epoch * world + rank,
        ):
            batch = component.tensors(columns)
            total += torch.tensor([optimiser.step(component.loss, batch) * len(batch[0]), len(batch[0])])
        if world > 1:
            torch.distributed.all_reduce(total)
        history.append(float(total[0]) / max(float(total[1]), 1.0))
        metrics = {"epoch": epoch, "loss": history[-1], "history": history}
        if rank != 0:
            ray.train.report(metrics)
            continue
        with tempfile.TemporaryDirectory() as folder:
            state = {"network": network.state_dict(), "epoch": epoch, "history": history}
            torch.save(state, Path(folder) / "state.pt")
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))


def fit_on_ray(
    params: TrainingParams, train: pd.DataFrame, name: str, storage: Path, resources: JobResources
) -> tuple[torch.nn.Module, list[float]]:
    """The fitted network and its loss per epoch, from a `TorchTrainer` over the job's bundles."""
    import ray.data
    from ray.train.v2.api.config import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.v2.torch.torch_trainer import TorchTrainer

    per_worker = resources.worker_resources()
    workers = len(resources.bundles)
    seed = params.data.synthetic.seed if params.data.synthetic is not None else 0
    rows_per_worker = -(-len(train) // workers)
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={
            "component": params.component,
            "epochs": params.epochs,
            "batch_size": params.batch_size,
            "learning_rate": params.learning_rate,
            "steps_per_epoch": max(1, -(-rows_per_worker // params.batch_size)),
            "seed": seed,
            "threads": max(1, int(per_worker.get("CPU", 1.0))),
        },
        scaling_config=ScalingConfig(
            num_workers=workers,
            use_gpu=per_worker.get("GPU", 0.0) > 0,
            resources_per_worker=per_worker,
            placement_strategy=resources.strategy,
            label_selector=dict(resources.node_labels) or None,
        ),
        run_config=RunConfig(
            name=name,
            storage_path=str(storage),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
        datasets={"train": ray.data.from_pandas(train)},
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise SystemExit("Ray Train finished without a checkpoint of the network")
    with result.checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / "state.pt", weights_only=True)
    network = trainable(params.component).network()
    network.load_state_dict(state["network"])
    return network.eval(), list(state["history"])


def snapshot_of(params: TrainingParams, component: BuiltinComponent) -> str:
    """The lineage's data snapshot: the table, or the generator's seed (and rows, where they count)."""
    if params.data.table is not None:
        return params.data.table.path
    assert params.data.synthetic is not None
    seed, rows = params.data.synthetic.seed, params.data.synthetic.rows
    if isinstance(component, TrainableComponent):
        return f"synthetic-seed-{seed}-rows-{rows}"
    return f"synthetic-seed-{seed}"  # its own train(seed) sizes its data: the rows do not apply


def register(trained: Trained, snapshot: str, job_id: str | None) -> dict[str, Any]:
    """Register what training produced as a new version of the component, the job id as its lineage."""
    from components.publish import git_commit, register_trained
    from model_hub import Lineage, Registry

    registry = Registry()
    try:
        registry.sync()
        exists = registry.catalog.card(trained.card.name) is not None
        lineage = Lineage(training_job=job_id, data_snapshot=snapshot, git_commit=git_commit())
        version = register_trained(registry, trained, lineage=lineage, new_version=exists)
    finally:
        registry.close()
    return version.as_dict()


def train_own(name: str, seed: int, snapshot: str | None, job_id: str | None) -> dict[str, Any]:
    """A built-in without a trainable network, fitted by its own ``train(seed)`` (in a Ray task), and
    registered when ``snapshot`` is given; the summary entries this path has."""
    trained = builtin(name).train(seed=seed)
    return {
        "metrics": {m.name: {"value": m.value, "baseline": m.baseline} for m in trained.card.metrics},
        "version": register(trained, snapshot, job_id) if snapshot is not None else None,
    }


def fit_own(
    params: TrainingParams, component: BuiltinComponent, job_id: str | None, resources: JobResources
) -> dict[str, Any]:
    """The summary of a built-in trained by its own ``train(seed)`` on the job's first bundle."""
    import ray

    assert params.data.synthetic is not None  # refused in `run` otherwise
    snapshot = snapshot_of(params, component) if params.register_version else None
    cpu = resources.bundles[0].get("CPU", 1.0) if resources.bundles else 1.0
    task = ray.remote(train_own).options(**resources.remote_args(cpu=cpu))
    result: dict[str, Any] = ray.get(
        task.remote(component.name, params.data.synthetic.seed, snapshot, job_id)
    )
    return {
        "job_id": job_id,
        "component": component.name,
        "rows": None,
        "test_rows": None,
        "workers": 1,
        "epochs": None,
        "loss": [],
        "metrics": result["metrics"],
        "model": None,
        "version": result["version"],
    }


def fit_network(
    params: TrainingParams,
    component: TrainableComponent,
    job_id: str | None,
    name: str,
    output: Path,
    resources: JobResources,
) -> dict[str, Any]:
    """The summary of a built-in whose network Ray Train fits on the job's bundles."""
    train, test, dataset = load_data(params, component, resources)
    network, history = fit_on_ray(params, train, name, output / "ray-train", resources)
    metrics = component.evaluate(network, train, test)
    torch.save(network.state_dict(), output / _MODEL_FILE)
    summary: dict[str, Any] = {
        "job_id": job_id,
        "component": params.component,
        "rows": len(train),
        "test_rows": len(test),
        "workers": len(resources.bundles),
        "epochs": params.epochs,
        "loss": history,
        "metrics": {k: {"value": v, "baseline": b} for k, (v, b) in metrics.items()},
        "model": str(output / _MODEL_FILE),
        "version": None,
    }
    if params.register_version:
        trained = component.trained(network, metrics, len(train), test, dataset)
        summary["version"] = register(trained, snapshot_of(params, component), job_id)
    return summary


def default_output(job_id: str) -> Path:
    """Where a training job writes when its parameters name no folder: ``$BRAIN_HOME/jobs/JOB_ID``."""
    from model_hub import HubSettings

    return HubSettings().home_dir / "jobs" / job_id


def output_folder(params: TrainingParams, name: str) -> Path:
    """The run's output folder: the one given, or the default of the run's name (the job id)."""
    return Path(params.output) if params.output is not None else default_output(name)


def check_source(params: TrainingParams, component: BuiltinComponent) -> None:
    """Refuse a table for a built-in that generates its own data, naming the ones that take a table."""
    if params.data.table is None or isinstance(component, TrainableComponent):
        return
    tables = [c.name for c in BUILTINS if isinstance(c, TrainableComponent)]
    raise SystemExit(
        f"{component.name} trains on its own generated data (its train(seed)), not on a table; give "
        f"data: {{synthetic: {{seed: S}}}}. Built-ins that train on a table: {', '.join(tables)}"
    )


def run(params: TrainingParams, job_id: str | None, resources: JobResources) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        component = builtin(params.component)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    check_source(params, component)
    name = job_id or f"train-{params.component}-{time.strftime('%Y%m%d-%H%M%S')}"
    output = output_folder(params, name)
    output.mkdir(parents=True, exist_ok=True)
    if isinstance(component, TrainableComponent):
        summary = fit_network(params, component, job_id, name, output, resources)
    else:
        summary = fit_own(params, component, job_id, resources)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    write_json(os.path.join(output, METRICS_FILE), summary)
    return summary


def main() -> int:
    # Ray Train V2 (the default of Ray 2.60), whatever the node's environment says: the configs above
    # are V2's; the controller passes the flag on to the workers.
    os.environ["RAY_TRAIN_V2_ENABLED"] = "1"
    return run_program("deploy.jobs.train", TrainingParams, run)


if __name__ == "__main__":
    raise SystemExit(main())
