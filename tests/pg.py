"""A throwaway PostgreSQL server for tests, from the Debian ``postgresql`` package.

``with postgres_server() as server:`` runs ``initdb`` into a fresh temporary folder, starts the server on
a free loopback port (its unix socket in the same folder, so it never touches /var/run/postgresql), and
on exit stops it with ``pg_ctl stop -m fast`` and removes the folder. ``server.create_database()``
gives each test its own database.

PostgreSQL refuses to run as root. When the tests run as root, the server runs as the ``postgres`` OS
user (which the Debian package creates), or else as ``nobody``; the temporary folder is created in
/tmp (not under pytest's tmp_path, whose parents are private to root) and handed to that user.

When the binaries are missing, :class:`PostgresUnavailable` says so; fixtures turn it into a skip.
Install them with ``apt-get install -y postgresql`` (Debian/Ubuntu).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL server binaries here."""


def find_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl, else the PATH's."""
    candidates = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda d: _version(d.parent.name),
        reverse=True,
    )
    for bin_dir in candidates:
        if (bin_dir / "pg_ctl").exists() and (bin_dir / "postgres").exists():
            return bin_dir
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on PATH; "
        "install them with `apt-get install -y postgresql`"
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable(
        "running as root, and there is neither a 'postgres' nor a 'nobody' user to run as"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3) of ``database`` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )


@contextmanager
def postgres_server(start_timeout_s: int = 60) -> Iterator[PostgresServer]:
    """Start a throwaway server; stop it and remove its files on exit."""
    bin_dir = find_bin_dir()
    runner = _server_user()
    root = Path(tempfile.mkdtemp(prefix="brain-pg-", dir=_temp_parent(runner)))
    data, sockets, logfile = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if runner is not None:
        for path in (root, sockets):
            os.chown(path, runner.pw_uid, runner.pw_gid)
    started = False
    try:
        _run(
            runner,
            [
                str(bin_dir / "initdb"),
                "-D", str(data),
                "-U", SUPERUSER,
                "-A", "trust",  # loopback only, throwaway data: no passwords to manage
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=root,
        )  # fmt: skip
        port = 0
        for _attempt in range(3):
            # Another process may grab the free port between our probe and the server's bind: retry.
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} "
                # Durability is pointless for a throwaway database; speed is not.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            result = _run(
                runner,
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-o", options,
                 "-w", "-t", str(start_timeout_s), "start"],
                cwd=root,
                check=False,
            )  # fmt: skip
            if result.returncode == 0:
                started = True
                break
            _run(
                runner,
                [str(bin_dir / "pg_ctl"), "-D", str(data), "stop", "-m", "immediate"],
                cwd=root,
                check=False,
            )
        if not started:
            log = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start (last port {port}); server log:\n{log}")
        yield PostgresServer(host="127.0.0.1", port=port, user=SUPERUSER)
    finally:
        if started:
            _stop(runner, bin_dir, data, root)
        shutil.rmtree(root, ignore_errors=True)


def _stop(runner: pwd.struct_passwd | None, bin_dir: Path, data: Path, root: Path) -> None:
    stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "stop", "-m", "fast", "-w"]
    try:
        if _run(runner, stop, cwd=root, check=False).returncode == 0:
            return
    except subprocess.TimeoutExpired:
        pass
    # pg_ctl could not stop it: end the server we started (its pid is the first line of postmaster.pid).
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError):
        pass


def _temp_parent(runner: pwd.struct_passwd | None) -> str | None:
    """A temp folder the server's user can reach: TMPDIR may point into root's private home."""
    if runner is None:
        return None
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        path = Path(candidate)
        if path.is_dir() and all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents)):
            return str(path)
    raise PostgresUnavailable("no temporary folder that the 'postgres' user can reach; set TMPDIR to one")


def _run(
    runner: pwd.struct_passwd | None, argv: list[str], cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    if runner is not None:
        env |= {"HOME": runner.pw_dir, "USER": runner.pw_name, "LOGNAME": runner.pw_name}
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        user=runner.pw_uid if runner is not None else None,
        group=runner.pw_gid if runner is not None else None,
        extra_groups=[] if runner is not None else None,
        capture_output=True,
        text=True,
        # pg_ctl start forks the server, which inherits the pipes; closing ours lets run() return.
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:2])} failed ({result.returncode}): {result.stderr or result.stdout}"
        )
    return result
