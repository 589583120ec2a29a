"""Where the embedded platform listens, and the Ray token it authenticates with.

`brain up` exposes nothing but what ``BRAIN_HOST`` names (loopback by default):

- the local Ray head (GCS, raylet, dashboard and its agents, the runtime-env agent, metrics export) runs with
  node IP 127.0.0.1 (:data:`RAY_LOOPBACK_ENV`): Ray binds those to the node's IP, and a single-node Ray takes
  the loopback address as its IP only when told it is not part of a multi-node cluster;
- Ray's token authentication is on explicitly (``RAY_AUTH_MODE=token``) with the platform's own token file
  (``$BRAIN_HOME/run/ray_auth_token``, mode 0600, :func:`ensure_token`), never Ray's default
  ``~/.ray/auth_token``; the scheduler's pool `local` is given the same file;
- Serve's HAProxy puts its stats (:8404) and Prometheus (:9101) frontends on every interface and Ray Serve
  2.60 has no setting for their address, so HAProxy is started through a wrapper that rewrites those two
  ``bind`` lines to 127.0.0.1 (:func:`write_haproxy_wrapper`);
- Serve's HAProxy keeps its admin socket (mode 666, ``level admin``), metrics socket, config and server
  state under ``/tmp/haproxy-serve`` by default, where any local user can drive it and two platforms on
  one host would share it; the platform gives each of its homes a private directory instead
  (:func:`haproxy_dir`, :func:`haproxy_env`);
- Serve's HAProxy answers a path no application's route covers with 404 (``Path '…' not found``). The
  centre's application is on ``/`` and covers every path once deployed, so that answer comes only while
  no application is deployed yet — for about a second after each start of the centre, when the proxy is
  up and the application is not — and a client must retry then, not give up: the same wrapper turns it
  into 503 with ``Retry-After`` and a JSON error (:data:`STARTING_ANSWER`);
- MLflow, the scheduler's API and metrics listen on 127.0.0.1 (``deploy.embedded.platform``).

:func:`listeners` lists what the platform's processes really listen on; `brain doctor` fails on any that is
not on loopback while ``BRAIN_HOST`` is.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import secrets
import shlex
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

from deploy.embedded.errors import PlatformError
from deploy.embedded.proctree import read_recorded, still_running

TOKEN_FILE = "ray_auth_token"
"""The platform's Ray token, under ``$BRAIN_HOME/run``."""

RAY_LOOPBACK_ENV = {
    # Ray's switch for "single-node only" (meant for Windows/macOS): with it off, Ray takes the loopback
    # address as the node's IP, and binds its GCS, raylet, agents and metrics export there.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}

HAPROXY_STATS_PORT = 8404
HAPROXY_METRICS_PORT = 9101

STARTING_ANSWER = (
    "http-request return status 503 content-type application/json hdr Retry-After 1 "
    """string '{"error": "the capability centre is starting; retry in a second"}'"""
)
"""What Serve's HAProxy answers, in place of its 404, for a path no deployed application covers."""


def token_path(home: Path) -> Path:
    return home / "run" / TOKEN_FILE


def ensure_token(path: Path) -> Path:
    """The token file at ``path``, created with a new random token if missing; mode 0600 either way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    # A file copied in or created by an older version may be readable by others: never leave it so.
    if stat.S_IMODE(path.stat().st_mode) != 0o600:
        path.chmod(0o600)
    return path


def ray_env(token_file: Path) -> dict[str, str]:
    """Env vars of the process that starts the platform's Ray head: loopback, token auth with our file."""
    return {**RAY_LOOPBACK_ENV, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)}


#: Serve puts its HAProxy files under ``<dir>/<node id>/`` (56 hex characters), and a Unix socket path has
#: at most 107 bytes: the directory must stay short, so it lives in the temporary directory, not the home.
HAPROXY_DIR_PREFIX = "brain-hap-"


def haproxy_dir(home: Path) -> Path:
    """A directory only this user may enter, for Serve's HAProxy files of the platform at ``home``.

    Created mode 0700; one that exists must be a real directory (not a link) owned by this user — another
    user could otherwise have placed it to read or hijack the admin socket — and is set to 0700 again.
    """
    digest = hashlib.sha256(str(home.expanduser().resolve()).encode()).hexdigest()[:8]
    path = Path(tempfile.gettempdir()) / f"{HAPROXY_DIR_PREFIX}{os.getuid()}-{digest}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PlatformError(
            f"{path} is not a directory owned by this user; remove it (it should hold the platform's HAProxy "
            "sockets) and start again"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def haproxy_env(directory: Path) -> dict[str, str]:
    """Env vars that put Serve's HAProxy admin and metrics sockets, config and state in ``directory``."""
    return {
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(directory / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(directory / "admin.sock"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(directory / "metrics.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(directory),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(directory / "server-state"),
    }


def write_haproxy_wrapper(path: Path, haproxy: str, ports: tuple[int, ...]) -> Path:
    """An executable at ``path`` that rewrites HAProxy's ``bind *:PORT`` / ``bind :PORT`` lines for ``ports``
    in the config file it is given (``-f FILE``) to 127.0.0.1, then runs ``haproxy`` with the same arguments.

    Ray Serve writes the config and starts HAProxy (through ``RAY_SERVE_HAPROXY_BINARY_PATH``) for every
    start and reload, so each config HAProxy reads has been rewritten. The serving frontend is not touched:
    it binds the host Serve is given. The default backend's 404 becomes :data:`STARTING_ANSWER`.
    """
    alternatives = "|".join(str(p) for p in ports)
    rewrite = rf"s/^([[:space:]]*bind[[:space:]]+)[*]?:({alternatives})([[:space:]]|$)/\1127.0.0.1:\2\3/"
    # Serve's default backend (ray/serve/_private/haproxy_templates.py): its one line, answering 404.
    default_404 = r'http-request return status 404 .*/-/routes for available routes\."$'
    starting = rf"s|^([[:space:]]*){default_404}|\1{STARTING_ANSWER}|"
    script = f"""#!/bin/sh
# Written by the platform (deploy/embedded/network.py): HAProxy's stats and metrics on loopback only, and
# 503 + Retry-After instead of 404 while no application is deployed.
cfg=""
prev=""
for arg in "$@"; do
    if [ "$prev" = "-f" ]; then cfg="$arg"; fi
    prev="$arg"
done
if [ -n "$cfg" ] && [ -f "$cfg" ]; then
    sed -i -E -e {shlex.quote(rewrite)} -e {shlex.quote(starting)} "$cfg" || exit 1
fi
exec {shlex.quote(haproxy)} "$@"
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(script)
    tmp.chmod(0o700)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket of a platform process."""

    address: str
    port: int
    pid: int
    process: str

    @property
    def loopback(self) -> bool:
        return is_loopback(self.address)

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port} ({self.process}, pid {self.pid})"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # Ray's gRPC servers listen on ::ffff:127.0.0.1 (IPv4-mapped); Python 3.11 does not call that loopback.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def platform_pids(roots: list[int], recorded: list[Path]) -> set[int]:
    """The recorded services' processes, their descendants, and recorded children still running (HAProxy
    can be re-parented away from the tree that started it)."""
    pids: set[int] = set()
    for root in roots:
        try:
            process = psutil.Process(root)
            pids.add(root)
            pids.update(child.pid for child in process.children(recursive=True))
        except psutil.Error:
            continue
    for path in recorded:
        pids.update(still_running(read_recorded(path)))
    return pids


def listeners(pids: set[int]) -> list[Listener]:
    """Every listening TCP socket (IPv4 and IPv6) of ``pids``, sorted by port."""
    found: set[Listener] = set()
    for pid in pids:
        try:
            process = psutil.Process(pid)
            name = process.name()
            connections = process.connections(kind="inet")
        except psutil.Error:
            continue  # gone, or not ours to inspect
        for connection in connections:
            if connection.status == psutil.CONN_LISTEN and connection.laddr:
                found.add(Listener(connection.laddr.ip, connection.laddr.port, pid, name))
    return sorted(found, key=lambda listener: (listener.port, listener.address, listener.pid))
