"""`brain backup` / `brain restore`: the embedded stores of a BRAIN_HOME, copied consistently while it runs.

What is copied: the registry's signing key (``run/registry_key``; without it a restored registry refuses
every version, their signatures being the old key's), every SQLite store of the platform that lives in the
home folder (the MLflow registry ``mlflow.db``, the catalogue ``catalog.db``, tenants/keys/usage
``platform.db``, the scheduler's ``scheduler.db``), each with SQLite's online backup API — a consistent
snapshot even while the services write, WAL included — and then the MLflow artifacts (``mlartifacts/``).
The order matters: artifacts are written before their version is recorded and never changed after, so
every version in the snapshot finds its files in the copy. A store that is not a file in the home folder
(PostgreSQL, an external MLflow or artifact store) is named in the manifest as not copied, as is a
registry key given in BRAIN_REGISTRY_KEY; docs/operations.md gives the pg_dump path.

Then the folders of tenants' and jobs' files (``tenants/``, ``jobs/``: what jobs read and wrote). Not
copied: logs (Ray's session logs belong to a session a restored platform never runs again; each job's log
tail is in the scheduler's database), the Ray token (a credential `brain up` makes anew and nothing stored
refers to), caches and process records.

The MLflow store records artifact locations as absolute paths; a restore into another home folder rewrites
the old home's path to the new one in every stored text (and in paths inside JSON, as in job specs), so
the restored registry reads its own copy. A restore draws a new scheduler namespace (scheduler/store.py).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from deploy.embedded.errors import PlatformError
from deploy.settings import PlatformSettings
from model_hub.settings import HubSettings
from model_hub.signing import key_file
from scheduler.settings import SchedulerSettings
from scheduler.store import SchedulerStore

MANIFEST = "brain-backup.json"
ARTIFACTS = "mlartifacts"
JOBS = "jobs"
REGISTRY_KEY = "registry_key"
FORMAT = 1


@dataclass
class Manifest:
    """What a backup folder holds and where it came from."""

    home: str
    created: str
    databases: list[str] = field(default_factory=list)
    """File names of the SQLite snapshots in the backup folder."""
    artifacts: bool = False
    folders: list[str] = field(default_factory=list)
    """Folders of tenants' and jobs' files copied from the home folder (`DATA_FOLDERS`), relative to it."""
    registry_key: bool = False
    """Whether the registry's signing key file is in the backup (as ``registry_key``, mode 0600)."""
    not_copied: list[str] = field(default_factory=list)
    """Stores outside the home folder, each with what it is: to be backed up with their own tools."""
    namespace: str | None = None
    """After a restore: the scheduler database's new namespace (scheduler/store.py, `submission_id`), drawn
    so that no attempt made from the restored database reuses a Ray submission id of the original's."""
    format: int = FORMAT

    def copied_folders(self) -> list[str]:
        """Every folder the backup holds besides the databases, relative to the home folder."""
        return ([ARTIFACTS] if self.artifacts else []) + self.folders


def _data_folders(home: Path) -> tuple[list[str], list[str]]:
    """The folders of tenants' and jobs' files under ``home`` (relative to it), and a line for each that
    lives elsewhere.

    Tenants' storage roots (BRAIN_TENANT_STORAGE, ``tenants/{tenant}`` by default) hold what their jobs
    read and wrote — governed tables, batch predictions, trained models: data the platform cannot make
    again. ``jobs/`` holds the outputs of operators' training jobs that named no folder. Logs are not
    copied: Ray's session logs belong to a Ray session that a restored platform never runs again, and the
    tail of each job's log that the scheduler kept is in ``scheduler.db``.
    """
    scheduler = SchedulerSettings(home=home)
    template = scheduler.tenant_storage.split("{tenant}")[0]
    folders, elsewhere = [JOBS], []
    prefix = Path(template).expanduser()
    root = prefix if prefix.is_absolute() else home / prefix
    if root.resolve() != home and root.resolve().is_relative_to(home):
        folders.insert(0, str(root.resolve().relative_to(home)))
    else:  # outside the home folder, or not a folder of its own in it
        elsewhere.append(f"tenants' job storage: BRAIN_TENANT_STORAGE={scheduler.tenant_storage}")
    return folders, elsewhere


def _stores(home: Path) -> tuple[dict[str, Path], list[str]]:
    """The SQLite stores under ``home`` by file name, and a line for each store that is elsewhere."""
    hub = HubSettings(home=home)
    urls = {
        "MLflow registry": hub.tracking_uri,
        "platform database (tenants, keys, usage)": PlatformSettings(home=home).db_url,
        "scheduler database": SchedulerSettings(home=home).database_url,
    }
    files: dict[str, Path] = {}
    elsewhere: list[str] = []
    for what, url in urls.items():
        parsed = make_url(url)
        path = Path(parsed.database or "").expanduser() if parsed.get_backend_name() == "sqlite" else None
        if path is not None and path.resolve().parent == home:
            files[path.name] = path
        else:
            elsewhere.append(f"{what}: {parsed.render_as_string(hide_password=True)}")
    if hub.catalog_file.resolve().parent == home:
        files[hub.catalog_file.name] = hub.catalog_file
    else:
        elsewhere.append(f"catalogue: {hub.catalog_file} (rebuildable: brain components reindex)")
    if hub.artifact_root is not None:
        elsewhere.append(f"MLflow artifacts: {hub.artifact_root}")
    return files, elsewhere


def _snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API: pages copied under a read lock,
    restarted if a writer changes them meanwhile)."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30) as src:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    src.close()


def backup(home: Path, dest: Path) -> Manifest:
    """Copy the stores of ``home`` into the new or empty folder ``dest``."""
    home = home.expanduser().resolve()
    if dest.exists() and any(dest.iterdir()):
        raise PlatformError(f"{dest} is not empty; name a new or empty folder for the backup")
    files, elsewhere = _stores(home)
    present = {name: path for name, path in files.items() if path.exists()}
    if not present:
        raise PlatformError(f"{home} holds no platform store to back up (is BRAIN_HOME the right folder?)")
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)  # key hashes and tenants' data: the owner's only, as the home folder
    manifest = Manifest(home=str(home), created=datetime.now(UTC).isoformat(timespec="seconds"))
    manifest.not_copied = elsewhere
    hub = HubSettings(home=home)
    if hub.registry_key is not None:
        manifest.not_copied.append("registry signing key: BRAIN_REGISTRY_KEY (keep it for the restore)")
    elif key_file(hub).is_file():
        target = dest / REGISTRY_KEY
        target.touch(mode=0o600)
        target.write_bytes(key_file(hub).read_bytes())
        manifest.registry_key = True
    for name, path in sorted(present.items()):
        _snapshot(path, dest / name)
        manifest.databases.append(name)
    artifacts = home / ARTIFACTS
    if HubSettings(home=home).artifact_root is None and artifacts.is_dir():
        shutil.copytree(artifacts, dest / ARTIFACTS, symlinks=True)
        manifest.artifacts = True
    folders, elsewhere = _data_folders(home)
    manifest.not_copied += elsewhere
    for folder in folders:
        if (home / folder).is_dir():
            # Files of jobs running meanwhile may be copied half written; the scheduler's snapshot has
            # those jobs unfinished, and after a restore their retry policy decides (docs/operations.md).
            shutil.copytree(home / folder, dest / folder, symlinks=True)
            manifest.folders.append(folder)
    (dest / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1))
    return manifest


def read_manifest(source: Path) -> Manifest:
    try:
        raw = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise PlatformError(f"{source} is not a backup of `brain backup` (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise PlatformError(f"{source / MANIFEST} cannot be read: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise PlatformError(f"{source / MANIFEST} is not in the backup format this version reads ({FORMAT})")
    try:
        return Manifest(**raw)
    except TypeError as exc:
        raise PlatformError(f"{source / MANIFEST} is malformed: {exc}") from None


def restore(source: Path, home: Path) -> Manifest:
    """Restore the backup in ``source`` into ``home``, which must hold no platform store yet."""
    home = home.expanduser().resolve()
    manifest = read_manifest(source)
    files, _ = _stores(home)
    folders = manifest.copied_folders()
    clash = [name for name in manifest.databases + folders if (home / name).exists()]
    if clash:
        raise PlatformError(
            f"{home} already holds platform stores ({', '.join(clash)}); restore into a new "
            f"BRAIN_HOME, or move these away first (with the platform stopped)"
        )
    missing = [name for name in manifest.databases if name not in files]
    if missing:
        raise PlatformError(
            f"the backup holds {', '.join(missing)}, which this BRAIN_HOME keeps elsewhere "
            f"(BRAIN_DATABASE_URL, BRAIN_SCHEDULER_DB_URL, BRAIN_MLFLOW_TRACKING_URI or BRAIN_CATALOG_PATH "
            f"is set); unset them to restore the embedded stores"
        )
    home.mkdir(parents=True, exist_ok=True)
    if manifest.registry_key:
        key = key_file(HubSettings(home=home))
        if key.exists() and key.read_bytes() != (source / REGISTRY_KEY).read_bytes():
            raise PlatformError(
                f"{key} holds another registry key; restore into a new BRAIN_HOME (the backup's versions are "
                "signed with the backup's key)"
            )
        key.parent.mkdir(parents=True, exist_ok=True)
        key.touch(mode=0o600)
        key.chmod(0o600)
        key.write_bytes((source / REGISTRY_KEY).read_bytes())
    for folder in folders:
        shutil.copytree(source / folder, home / folder, symlinks=True)
    for name in manifest.databases:
        target = home / name
        _snapshot(source / name, target)
        if manifest.home != str(home):
            _relocate(target, manifest.home, str(home))
    scheduler_db = files.get(_scheduler_file(home))
    if scheduler_db is not None and scheduler_db.name in manifest.databases:
        store = SchedulerStore.open(SchedulerSettings(home=home))
        try:
            manifest.namespace = store.draw_namespace()
        finally:
            store.close()
    return manifest


def _scheduler_file(home: Path) -> str:
    return Path(make_url(SchedulerSettings(home=home).database_url).database or "").name


def _relocate(database: Path, old: str, new: str) -> None:
    """Rewrite ``old`` (the backed-up home's path) to ``new`` at the start of every text value."""
    with sqlite3.connect(database) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in db.execute(f'PRAGMA table_info("{table}")').fetchall():
                name, kind = column[1], str(column[2]).upper()
                if "CHAR" not in kind and "TEXT" not in kind and "CLOB" not in kind:
                    continue
                for prefix in (f"file://{old}", old):
                    replaced = f"file://{new}" if prefix.startswith("file://") else new
                    db.execute(
                        f'UPDATE "{table}" SET "{name}" = ? || substr("{name}", ?) '
                        f'WHERE substr("{name}", 1, ?) = ?',
                        (replaced, len(prefix) + 1, len(prefix), prefix),
                    )
                    # Paths inside JSON (a job's spec holds its tenant's storage resolved): a queued job
                    # restored elsewhere must write into the new home, never the old one.
                    db.execute(
                        f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                        f'WHERE instr("{name}", ?) > 0',
                        (f'"{prefix}/', f'"{replaced}/', f'"{prefix}/'),
                    )
    db.close()
