"""The replicas' inter-deployment gRPC server on loopback (the embedded platform's one node)."""

from __future__ import annotations

import socket
from concurrent import futures

import grpc
import psutil
import pytest
from ray.serve._private import default_impl, replica

from deploy.centre.ingress import loopback_internal_grpc
from deploy.embedded.network import is_loopback


def _listening_on(port: int) -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process().connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


def test_the_address_serve_asks_for_becomes_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # monkeypatch restores Serve's own helper after the test, whatever loopback_internal_grpc put there.
    monkeypatch.setattr(replica, "add_port_to_grpc_server", replica.add_port_to_grpc_server)
    monkeypatch.setattr(default_impl, "add_grpc_address", default_impl.add_grpc_address)
    assert loopback_internal_grpc()
    assert loopback_internal_grpc()  # a second call does not wrap twice
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    try:
        # What Serve 2.60's Replica._on_initialized passes.
        port = replica.add_port_to_grpc_server(server, "[::]:0")
        server.start()
        assert port > 0
        listening = _listening_on(port)
        assert listening and all(is_loopback(ip) for ip in listening), listening
    finally:
        server.stop(None).wait()


def test_other_addresses_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica, "add_port_to_grpc_server", replica.add_port_to_grpc_server)
    monkeypatch.setattr(default_impl, "add_grpc_address", default_impl.add_grpc_address)
    loopback_internal_grpc()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    try:
        port = replica.add_port_to_grpc_server(server, "127.0.0.2:0")
        server.start()
        assert {ip.removeprefix("::ffff:") for ip in _listening_on(port)} == {"127.0.0.2"}
    finally:
        server.stop(None).wait()


def test_the_ingress_grpc_server_goes_to_loopback_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """What grpc_util.start_grpc_server does for a replica's own OIP gRPC server (HAProxy forwards to it)."""
    monkeypatch.setattr(replica, "add_port_to_grpc_server", replica.add_port_to_grpc_server)
    monkeypatch.setattr(default_impl, "add_grpc_address", default_impl.add_grpc_address)
    loopback_internal_grpc()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    try:
        with socket.socket() as probe:  # a free port, as Serve's controller allocates one
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        default_impl.add_grpc_address(server, f"[::]:{port}")
        server.start()
        listening = _listening_on(port)
        assert listening and all(is_loopback(ip) for ip in listening), listening
    finally:
        server.stop(None).wait()
