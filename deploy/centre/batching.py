"""Dynamic batching, one batcher per component version.

Concurrent requests for the same component version are merged along the first (batch) axis into
one model call and the outputs split back. Batches never mix components or versions — Ray Serve's
``@serve.batch`` batches per method, so a multiplexed replica would mix models in one batch (ray
#56633, #50695, #43288); here each (component, version) has its own queue.

A request joins the open batch of its component; the batch runs when it holds ``max_rows`` rows or
when its first request has waited ``wait_s``. Only requests whose inputs agree on every axis but the
first are concatenated; the rest of the batch runs request by request. If a merged call fails (one
bad row in a formula, say), every request of it runs alone, so one caller's mistake is never
another's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

Arrays = dict[str, np.ndarray]
Predict = Callable[[Arrays], Arrays]


@dataclass
class _Pending:
    inputs: Arrays
    rows: int
    future: asyncio.Future[Arrays]

    def signature(self) -> tuple[tuple[str, tuple[int, ...], str], ...]:
        return tuple(sorted((k, v.shape[1:], v.dtype.str) for k, v in self.inputs.items()))


class Batcher:
    """Merges concurrent calls of one model. Used from one event loop."""

    def __init__(
        self,
        predict: Predict,
        max_rows: int,
        wait_s: float,
        *,
        executor: Executor | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self._predict = predict
        self.max_rows = max_rows
        self.wait_s = wait_s
        self._executor = executor
        self._on_batch = on_batch  # (requests, rows) of each model call
        self._queue: list[_Pending] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def __len__(self) -> int:
        """Requests waiting for their batch to run."""
        return len(self._queue)

    async def predict(self, inputs: Arrays, rows: int) -> Arrays:
        loop = asyncio.get_running_loop()
        pending = _Pending(inputs, rows, loop.create_future())
        self._queue.append(pending)
        self._rows += rows
        if self._rows >= self.max_rows:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait_s, self._flush)
        return await pending.future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        while self._queue:
            batch: list[_Pending] = []
            rows = 0
            while self._queue and (not batch or rows + self._queue[0].rows <= self.max_rows):
                item = self._queue.pop(0)
                batch.append(item)
                rows += item.rows
            self._rows -= rows
            task = loop.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            if self._rows < self.max_rows:
                break
        if self._queue:
            self._timer = loop.call_later(self.wait_s, self._flush)

    async def _run(self, batch: list[_Pending]) -> None:
        groups: dict[tuple[tuple[str, tuple[int, ...], str], ...], list[_Pending]] = {}
        for item in batch:
            groups.setdefault(item.signature(), []).append(item)
        for group in groups.values():
            if len(group) == 1:
                await self._alone(group[0])
            else:
                await self._merged(group)

    async def _call(self, inputs: Arrays) -> Arrays:
        if self._executor is None:
            return self._predict(inputs)
        # ONNX Runtime lets go of the GIL: the event loop parses the next requests meanwhile.
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._predict, inputs)

    async def _alone(self, item: _Pending) -> None:
        try:
            result = await self._call(item.inputs)
        except Exception as exc:
            _settle(item, exc)
        else:
            self._observe(1, item.rows)
            _settle(item, result)

    async def _merged(self, group: list[_Pending]) -> None:
        names = list(group[0].inputs)
        merged = {n: np.concatenate([item.inputs[n] for item in group]) for n in names}
        total = sum(item.rows for item in group)
        try:
            outputs = await self._call(merged)
            parts = _split(outputs, [item.rows for item in group], total)
        except Exception:
            parts = None
        if parts is None:
            for item in group:
                await self._alone(item)
            return
        self._observe(len(group), total)
        for item, part in zip(group, parts, strict=True):
            _settle(item, part)

    def _observe(self, requests: int, rows: int) -> None:
        if self._on_batch is not None:
            self._on_batch(requests, rows)


def _split(outputs: Arrays, rows: list[int], total: int) -> list[Arrays] | None:
    """Outputs cut back into each request's rows; None when an output is not batch-major."""
    if any(np.ndim(v) == 0 or np.shape(v)[0] != total for v in outputs.values()):
        return None
    bounds = np.cumsum(rows)[:-1]
    per_output = {k: np.split(np.asarray(v), bounds) for k, v in outputs.items()}
    return [{k: parts[i] for k, parts in per_output.items()} for i in range(len(rows))]


def _settle(item: _Pending, result: Arrays | BaseException) -> None:
    if item.future.done():  # the caller went away (cancelled request)
        return
    if isinstance(result, BaseException):
        item.future.set_exception(result)
    else:
        item.future.set_result(result)
