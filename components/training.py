"""Small, deterministic torch training loops shared by the learned components."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

Loss = Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch and return a numpy generator, so a component trained twice with one seed is identical."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def fit(
    model: torch.nn.Module,
    loss: Loss,
    tensors: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """AdamW with a cosine learning-rate decay; returns the mean loss of each epoch.

    Runs on one thread: these models are small enough that thread hand-offs cost more than they save,
    and on a shared machine the extra threads only contend with the platform's other work.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(
            model,
            loss,
            tensors,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            seed=seed,
        )
    finally:
        torch.set_num_threads(threads)


def _fit(
    model: torch.nn.Module,
    loss: Loss,
    tensors: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, -(-len(tensors[0]) // batch_size))
    optimiser = Optimiser(model, lr=lr, weight_decay=weight_decay, total_steps=epochs * steps_per_epoch)
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(tensors[0]), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            total += optimiser.step(loss, tuple(t[idx] for t in tensors)) * len(idx)
        history.append(total / len(order))
    model.eval()
    return history


class Optimiser:
    """AdamW with a cosine learning-rate decay over `total_steps`: the recipe of every learned built-in,
    in-process (`fit`) and in a Ray Train job (`deploy.jobs.train`)."""

    def __init__(self, model: torch.nn.Module, *, lr: float, weight_decay: float, total_steps: int) -> None:
        self.model = model
        self.adamw = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.adamw, T_max=max(1, total_steps))

    def step(self, loss: Loss, batch: tuple[torch.Tensor, ...]) -> float:
        """One step on `batch`; returns the batch's mean loss before the step."""
        self.adamw.zero_grad()
        value = loss(self.model, batch)
        value.backward()
        self.adamw.step()
        self.schedule.step()
        return float(value.detach())
