"""Payload samples of a private component: kept only when its owner turns them on.

Drift statistics (`deploy.centre.drift`) keep bin counts and never a payload. Some owners need the
payloads themselves — to relabel, to retrain on this season's raw materials, to replay a bad answer —
so a component's serving policy may set ``payload_sample_rate``. Only for a **private** component:
its callers are its owner's own keys, so the owner keeps nothing that another tenant sent. The rule
is checked when the policy is set and again for every call (a newer version's card may be wider).

A sampled call (one in round(1/rate), counted per version like drift) leaves its inputs and outputs
as JSON (`oip`-like tensors; BYTES as text) in memory, at most MAX_PENDING_BYTES; the centre's
background check (every 2 s) writes them to the platform database and trims each version to its
newest ``keep`` samples. A call whose tensors are over MAX_SAMPLE_BYTES is not sampled, only
counted. The owner's admin and developer keys read and purge them over the registry API; nobody
else, platform operators included (it is the enterprise's data, not the platform's).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import DateTime, Engine, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from deploy.db import Base, utc, utcnow

log = logging.getLogger(__name__)

#: JSON bytes of one sample at most; a bigger call is counted in ``skipped``, not kept.
MAX_SAMPLE_BYTES = 64 * 1024

#: JSON bytes waiting for the next background write, over all versions; more are dropped and counted.
MAX_PENDING_BYTES = 4 * 1024 * 1024


class PayloadRow(Base):
    __tablename__ = "payload_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    component: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    tenant: Mapped[str] = mapped_column(String(64))
    """The caller's tenant (the owner's, since only private components are sampled)."""
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    inputs: Mapped[str] = mapped_column(Text)
    outputs: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Sample:
    component: str
    version: int
    tenant: str
    at: datetime
    inputs: str
    outputs: str


def tensors_json(arrays: Mapping[str, np.ndarray]) -> str:
    """Named tensors as JSON: datatype (numpy's name), shape and the data flattened row-major; BYTES
    elements as UTF-8 text (undecodable bytes escaped), so a sample is readable without numpy."""
    out: dict[str, Any] = {}
    for name, array in arrays.items():
        if array.dtype.kind in "OSU":
            data: list[Any] = [
                v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v)
                for v in array.reshape(-1)
            ]
        else:
            data = array.reshape(-1).tolist()
        out[name] = {"dtype": str(array.dtype), "shape": list(array.shape), "data": data}
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


class PayloadSampler:
    """One per replica: picks the sampled calls and holds them until the background write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: Counter[tuple[str, int]] = Counter()
        self._pending: list[Sample] = []
        self._pending_bytes = 0
        self.skipped = 0
        """Sampled calls not kept: over MAX_SAMPLE_BYTES, or the pending bytes full."""

    def offer(
        self,
        component: str,
        version: int,
        tenant: str,
        rate: float,
        inputs: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
    ) -> bool:
        """Count a successful call; keep it when it is the sampled one of its round(1/rate)."""
        every = max(1, round(1 / rate))
        with self._lock:
            self._seen[(component, version)] += 1
            if self._seen[(component, version)] % every:
                return False
        sample = Sample(component, version, tenant, utcnow(), tensors_json(inputs), tensors_json(outputs))
        size = len(sample.inputs) + len(sample.outputs)
        with self._lock:
            if size > MAX_SAMPLE_BYTES or self._pending_bytes + size > MAX_PENDING_BYTES:
                self.skipped += 1
                return False
            self._pending.append(sample)
            self._pending_bytes += size
        return True

    def write(self, engine: Engine, keep: int) -> int:
        """Write the pending samples and trim each version written to its newest ``keep``; samples
        that fail to write are dropped (logged): they are a sample, and holding them would grow."""
        with self._lock:
            pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not pending:
            return 0
        try:
            with Session(engine) as session, session.begin():
                session.add_all(
                    PayloadRow(component=s.component, version=s.version, tenant=s.tenant, at=s.at,
                               inputs=s.inputs, outputs=s.outputs)
                    for s in pending
                )  # fmt: skip
                session.flush()
                for component, version in {(s.component, s.version) for s in pending}:
                    _trim(session, component, version, keep)
        except Exception as exc:
            log.warning("writing %d payload samples failed (dropped): %s", len(pending), exc)
            return 0
        return len(pending)


def _trim(session: Session, component: str, version: int, keep: int) -> None:
    """Delete a version's samples older than its newest ``keep``."""
    newest = (
        select(PayloadRow.id)
        .where(PayloadRow.component == component, PayloadRow.version == version)
        .order_by(PayloadRow.id.desc())
        .limit(keep)
        .subquery()
    )
    session.execute(
        delete(PayloadRow).where(
            PayloadRow.component == component,
            PayloadRow.version == version,
            PayloadRow.id.not_in(select(newest.c.id)),
        )
    )


def read_samples(engine: Engine, component: str, *, version: int | None, limit: int) -> list[dict[str, Any]]:
    """The newest samples of ``component`` (one version or all), newest first."""
    query = select(PayloadRow).where(PayloadRow.component == component)
    if version is not None:
        query = query.where(PayloadRow.version == version)
    with Session(engine) as session:
        rows = session.scalars(query.order_by(PayloadRow.id.desc()).limit(limit)).all()
        return [
            {
                "version": r.version,
                "tenant": r.tenant,
                "at": utc(r.at).isoformat(),
                "inputs": json.loads(r.inputs),
                "outputs": json.loads(r.outputs),
            }
            for r in rows
        ]


def count_samples(engine: Engine, component: str) -> int:
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(PayloadRow).where(PayloadRow.component == component)
        )
        return int(count or 0)


def purge_samples(engine: Engine, component: str) -> int:
    """Delete every sample of ``component``; how many there were."""
    with Session(engine) as session, session.begin():
        result = session.execute(delete(PayloadRow).where(PayloadRow.component == component))
        return int(getattr(result, "rowcount", 0) or 0)
