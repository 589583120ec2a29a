"""The catalogue: a search index over the registry's component cards.

MLflow's registry search scans tags row by row and cannot OR conditions (mlflow #13633), so the
catalogue keeps its own index in SQLite (FTS5 with the trigram tokenizer, which also matches
Chinese substrings). The index is derived data: the registry writes it in the same call that
writes MLflow, `Catalog.sync` picks up changes made by other writers, and `brain components
reindex` rebuilds it from scratch.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model_hub.card import Card
from model_hub.taxonomy import Kind, Visibility

#: Bumped whenever the tables change; an index of another version is dropped and rebuilt from MLflow.
SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS component (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    visibility TEXT NOT NULL,
    owner TEXT NOT NULL,
    display_zh TEXT NOT NULL,
    display_en TEXT NOT NULL,
    task TEXT NOT NULL,
    deprecated INTEGER NOT NULL DEFAULT 0,
    latest_version INTEGER,
    production_version INTEGER,
    updated_ms INTEGER NOT NULL,
    -- A pipeline's steps as a JSON list of "step: component" (NULL for a component).
    steps TEXT
);
-- The card JSON is kept apart: filters scan the narrow table above, and at 10,000 components
-- carrying ~1.5 kB of JSON per row made every scan read 15 MB.
CREATE TABLE IF NOT EXISTS component_card (
    name TEXT PRIMARY KEY REFERENCES component(name) ON DELETE CASCADE,
    card TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS component_kind ON component(kind, name);
CREATE INDEX IF NOT EXISTS component_owner ON component(owner, name);
CREATE INDEX IF NOT EXISTS component_visibility ON component(visibility, name);
CREATE TABLE IF NOT EXISTS component_industry (
    industry TEXT NOT NULL,
    name TEXT NOT NULL REFERENCES component(name) ON DELETE CASCADE,
    PRIMARY KEY (industry, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS component_industry_name ON component_industry(name);
CREATE VIRTUAL TABLE IF NOT EXISTS component_text USING fts5(
    name UNINDEXED, body, tokenize = 'trigram'
);
"""


@dataclass(frozen=True)
class Viewer:
    """Who is searching: visibility rules apply unless ``admin``."""

    tenant: str
    industries: frozenset[str] = frozenset()
    admin: bool = False


@dataclass(frozen=True)
class Entry:
    name: str
    kind: Kind
    visibility: Visibility
    owner: str
    display_zh: str
    display_en: str
    task: str
    industries: tuple[str, ...]
    deprecated: bool
    latest_version: int | None
    production_version: int | None
    steps: tuple[str, ...] | None = None
    """A pipeline's steps (``"step: component"``); None for a component."""

    def as_dict(self) -> dict[str, object]:
        shown: dict[str, object] = {
            "name": self.name,
            "kind": self.kind.value,
            "visibility": self.visibility.value,
            "owner": self.owner,
            "display": {"zh": self.display_zh, "en": self.display_en},
            "task": self.task,
            "industries": list(self.industries),
            "deprecated": self.deprecated,
            "latest_version": self.latest_version,
            "production_version": self.production_version,
        }
        if self.steps is not None:
            shown["pipeline"] = {"steps": list(self.steps)}
        return shown


@dataclass(frozen=True)
class Query:
    kinds: Sequence[Kind] = ()
    industries: Sequence[str] = ()
    visibilities: Sequence[Visibility] = ()
    owner: str | None = None
    owners: Sequence[str] = ()
    """Any of these owners (OR), e.g. the tenants of one city; combined with ``owner`` by AND."""
    text: str | None = None
    include_deprecated: bool = False
    page: int = 1
    page_size: int = 20


@dataclass
class Page:
    items: list[Entry] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 20


class Catalog:
    """The SQLite search index. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                # Derived data: drop what an older release built; Registry.sync() refills it.
                self._conn.executescript(
                    "DROP TABLE IF EXISTS component_text; DROP TABLE IF EXISTS component_industry;"
                    "DROP TABLE IF EXISTS component_card; DROP TABLE IF EXISTS component;"
                )
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- writes ------------------------------------------------------------------------------

    def upsert(
        self,
        card: Card,
        *,
        latest_version: int | None,
        production_version: int | None,
        deprecated: bool,
        updated_ms: int,
        steps: Sequence[str] | None = None,
    ) -> None:
        """Index ``card``; ``steps`` marks a pipeline (its steps, ``"step: component"``)."""
        self.upsert_many([(card, latest_version, production_version, deprecated, updated_ms, steps)])

    def upsert_many(
        self,
        rows: Iterable[
            tuple[Card, int | None, int | None, bool, int]
            | tuple[Card, int | None, int | None, bool, int, Sequence[str] | None]
        ],
    ) -> None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN")
            try:
                for row in rows:
                    card, latest, production, deprecated, updated_ms = row[:5]
                    steps = row[5] if len(row) > 5 else None
                    cur.execute("DELETE FROM component_text WHERE name = ?", (card.name,))
                    cur.execute("DELETE FROM component_industry WHERE name = ?", (card.name,))
                    cur.execute(
                        "INSERT OR REPLACE INTO component VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            card.name,
                            card.kind.value,
                            card.visibility.value,
                            card.owner,
                            card.display.zh,
                            card.display.en,
                            card.task,
                            int(deprecated),
                            latest,
                            production,
                            updated_ms,
                            None if steps is None else json.dumps(list(steps), ensure_ascii=False),
                        ),
                    )
                    cur.execute(
                        "INSERT OR REPLACE INTO component_card VALUES (?, ?)", (card.name, card.to_json())
                    )
                    cur.executemany(
                        "INSERT INTO component_industry VALUES (?, ?)",
                        [(code, card.name) for code in card.industries],
                    )
                    cur.execute(
                        "INSERT INTO component_text(name, body) VALUES (?, ?)",
                        (card.name, card.search_text().lower()),
                    )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def remove(self, name: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM component_text WHERE name = ?", (name,))
            self._conn.execute("DELETE FROM component_card WHERE name = ?", (name,))
            self._conn.execute("DELETE FROM component WHERE name = ?", (name,))

    def clear(self) -> None:
        with self._lock:
            self._conn.executescript(
                "DELETE FROM component_text; DELETE FROM component_industry; DELETE FROM component_card;"
                "DELETE FROM component;"
            )

    # --- reads -------------------------------------------------------------------------------

    def newest_update_ms(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(MAX(updated_ms), 0) FROM component").fetchone()
        return int(row[0])

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM component").fetchone()[0])

    def card(self, name: str) -> Card | None:
        with self._lock:
            row = self._conn.execute("SELECT card FROM component_card WHERE name = ?", (name,)).fetchone()
        return None if row is None else Card.model_validate(json.loads(row[0]))

    def search(self, query: Query, viewer: Viewer | None = None) -> Page:
        """Filter by kind (OR), industry (OR), visibility, owner (one, or any of several) and free text;
        paginated by name."""
        where: list[str] = []
        args: list[object] = []
        if query.kinds:
            where.append(f"c.kind IN ({','.join('?' * len(query.kinds))})")
            args += [Kind(k).value for k in query.kinds]
        if query.visibilities:
            where.append(f"c.visibility IN ({','.join('?' * len(query.visibilities))})")
            args += [Visibility(v).value for v in query.visibilities]
        if query.owner:
            where.append("c.owner = ?")
            args.append(query.owner)
        if query.owners:
            where.append(f"c.owner IN ({','.join('?' * len(query.owners))})")
            args += list(query.owners)
        if not query.include_deprecated:
            where.append("c.deprecated = 0")
        if query.industries:
            where.append(
                "c.name IN (SELECT name FROM component_industry WHERE industry IN "
                f"({','.join('?' * len(query.industries))}))"
            )
            args += list(query.industries)
        if viewer is not None and not viewer.admin:
            visible = ["c.visibility = 'public'", "c.owner = ?"]
            args.append(viewer.tenant)
            if viewer.industries:
                visible.append(
                    "(c.visibility = 'industry' AND c.name IN (SELECT name FROM component_industry "
                    f"WHERE industry IN ({','.join('?' * len(viewer.industries))})))"
                )
                args += sorted(viewer.industries)
            where.append("(" + " OR ".join(visible) + ")")
        text = (query.text or "").strip().lower()
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            # SQLite ends a string at NUL, so FTS5 would see an unterminated phrase (a 500 found by fuzzing).
            raise ValueError("the search text contains a control character; send printable text only")
        if text:
            if len(text) >= 3:
                # The trigram tokenizer answers substring queries from its index; quote the text so
                # FTS5 syntax characters in user input are taken literally.
                where.append("c.name IN (SELECT name FROM component_text WHERE body MATCH ?)")
                args.append('"' + text.replace('"', '""') + '"')
            else:
                # Two-character Chinese words are common and shorter than a trigram.
                where.append("c.name IN (SELECT name FROM component_text WHERE body LIKE ? ESCAPE '\\')")
                args.append("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        page = max(1, query.page)
        size = max(1, min(query.page_size, 500))
        columns = (
            "c.name, c.kind, c.visibility, c.owner, c.display_zh, c.display_en, c.task, "
            "c.deprecated, c.latest_version, c.production_version, c.steps"
        )
        with self._lock:
            if text:
                # Full-text matching is the costly part: one pass, with the window count seeing
                # every matching row before LIMIT cuts the page.
                rows = self._conn.execute(
                    f"SELECT {columns}, COUNT(*) OVER () FROM component c {clause} "
                    "ORDER BY c.name LIMIT ? OFFSET ?",
                    [*args, size, (page - 1) * size],
                ).fetchall()
                total = int(rows[0][11]) if rows else -1
            else:
                # Without text the count is answered from the indexes, and the page sorts only
                # narrow rows; the window count would sort every matching row in full.
                rows = self._conn.execute(
                    f"SELECT {columns} FROM component c {clause} ORDER BY c.name LIMIT ? OFFSET ?",
                    [*args, size, (page - 1) * size],
                ).fetchall()
                total = -1
            if total < 0:
                total = int(
                    self._conn.execute(f"SELECT COUNT(*) FROM component c {clause}", args).fetchone()[0]
                )
            # Industries only for the page: a per-row subquery in the page query would run for
            # every matching row before the sort (17 ms at 10,000 components).
            industries: dict[str, list[str]] = {r[0]: [] for r in rows}
            if rows:
                marks = ",".join("?" * len(rows))
                found = self._conn.execute(
                    f"SELECT name, industry FROM component_industry WHERE name IN ({marks})",
                    [r[0] for r in rows],
                ).fetchall()
                for name, code in found:
                    industries[name].append(code)
        items = [
            Entry(
                name=r[0],
                kind=Kind(r[1]),
                visibility=Visibility(r[2]),
                owner=r[3],
                display_zh=r[4],
                display_en=r[5],
                task=r[6],
                deprecated=bool(r[7]),
                latest_version=r[8],
                production_version=r[9],
                industries=tuple(sorted(industries[r[0]])),
                steps=None if r[10] is None else tuple(json.loads(r[10])),
            )
            for r in rows
        ]
        return Page(items=items, total=total, page=page, page_size=size)
