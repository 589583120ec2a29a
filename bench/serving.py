"""Serving benchmark: the capability centre against its peers, in one run, with wrk.

Serves the same ONNX MLP (32→64→64→1; one request = one row, OIP v2 JSON) five ways and loads each
in turn at concurrency 1, 16 and 64:
  (a) the capability centre: HAProxy ingress → replica with key check, visibility, quota,
      metering and Prometheus counters → ONNX Runtime in-process (deploy.embedded.runner)
  (b) `mlflow models serve` (uvicorn, 2 workers) on the very same registered artifact
  (c) MLServer 1.7 with its MLflow runtime (from a separate venv given by --mlserver-venv)
  (d) a minimal plain Ray Serve deployment on Serve's defaults (same replica count, nothing else),
      and (d') the same deployment given the centre's Ray Serve switches (deploy.embedded.runner.SERVE_ENV:
      HAProxy ingress, throughput-optimised mode): a control that isolates what the centre does
      per request. (d') is reported beside the peers, with its own ratio.
  (e) ONNX Runtime in-process, no HTTP: the ceiling
The centre is measured twice: first as `brain up` runs it (one replica, no batching: the default a
user gets, "a0"), then tuned (--replicas, and dynamic batching for the c16/c64 "batched" rows: "a").
gRPC rows (OIP's `inference.GRPCInferenceService/ModelInfer`, raw tensors, as tritonclient.grpc sends
them) are loaded with h2load (nghttp2-client) against the centre ("ga0", "ga") and against MLServer's
gRPC port on the same model ("gc") in the same run; h2load reports the mean latency, not percentiles.
Then a multiplexing run: 500 registered components behind one centre, a Zipf stream touching all
of them (LRU of 64 per replica), and the cold-load time of a small ONNX component.

Writes bench/results/serving.json and bench/results/serving.png. Needs `wrk` and `h2load` (Debian's
wrk and nghttp2-client).
    python bench/serving.py [--duration 8] [--replicas 2] [--mlserver-venv DIR] [--components 500]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.embedded.proctree import descendants, still_running, terminate  # noqa: E402
from model_hub import Card, HubSettings, Registry, ServingPolicy  # noqa: E402
from model_hub.convert import torch_to_onnx  # noqa: E402

ROW = [round(float(v), 4) for v in np.random.default_rng(0).standard_normal(32)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mlp_card(name: str = "mlp", visibility: str = "public", n_in: int = 32) -> Card:
    return Card.parse(
        {
            "name": name,
            "display": {"zh": "基准模型", "en": "Benchmark MLP"},
            "kind": "process",
            "industries": ["high-end-chemicals"],
            "task": "regression",
            "owner": "bench",
            "license": "Apache-2.0",
            "visibility": visibility,
            "intended_use": "benchmark",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, n_in]}],
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}],
        }
    )


def mlp_module(seed: int = 0) -> Any:
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(32, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )


# --- load generation --------------------------------------------------------------------------


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: str, connections: int, duration: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": round(rps, 1),
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "requests": int(total.group(1)) if total else 0,
    }


def h2load(
    url: str, body: Path, headers: dict[str, str], connections: int, duration: int
) -> dict[str, float]:
    """Unary gRPC calls at ``connections`` in flight (one stream per connection), for ``duration`` s.

    h2load speaks HTTP/2 but not gRPC: every answer is HTTP 200, a failure only shows in the
    grpc-status trailer. So each run is preceded by one checked call (`grpc_check`).
    """
    cmd = ["h2load", "-t1", f"-c{connections}", "-m1", f"-D{duration}", "--warm-up-time=1", "-d", str(body)]
    cmd += [arg for k, v in {"content-type": "application/grpc", "te": "trailers", **headers}.items()
            for arg in ("-H", f"{k}: {v}")]  # fmt: skip
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    rps = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out).group(1))  # type: ignore[union-attr]
    done = re.search(r"requests: (\d+) total.*?(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    timing = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
    return {
        "rps": round(rps, 1),
        "mean_ms": round(_ms(timing.group(3)), 3) if timing else -1.0,
        "max_ms": round(_ms(timing.group(2)), 3) if timing else -1.0,
        "requests": int(done.group(1)) if done else 0,
        "failed": int(done.group(3)) + int(done.group(4)) if done else -1,
    }


def grpc_body(path: Path, model: str) -> Path:
    """One length-prefixed ModelInferRequest for the MLP (raw FP32 tensor, tritonclient's default)."""
    from tritonclient.grpc import service_pb2 as pb

    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="x", datatype="FP32", shape=[1, 32])
    request.raw_input_contents.append(np.asarray([ROW], np.float32).tobytes())
    message = request.SerializeToString()
    path.write_bytes(b"\x00" + len(message).to_bytes(4, "big") + message)
    return path


def grpc_check(target: str, body: Path, headers: dict[str, str]) -> None:
    """The call h2load will repeat, made once with grpcio: it must succeed and answer one output."""
    import grpc
    from tritonclient.grpc import service_pb2 as pb
    from tritonclient.grpc import service_pb2_grpc

    request = pb.ModelInferRequest.FromString(body.read_bytes()[5:])
    with grpc.insecure_channel(target) as channel:
        answer = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            request, metadata=list(headers.items()), timeout=30
        )
    assert len(answer.raw_output_contents[0]) == 4, answer


def load_grpc(
    target: str, body: Path, headers: dict[str, str], duration: int, concurrency: tuple[int, ...]
) -> dict[str, dict[str, float]]:
    grpc_check(target, body, headers)
    url = f"http://{target}/inference.GRPCInferenceService/ModelInfer"
    h2load(url, body, headers, 4, 2)  # warm-up
    result = {f"c{c}": h2load(url, body, headers, c, duration) for c in concurrency}
    print("    gRPC", json.dumps(result), flush=True)
    return result


def lua(path: Path, body: str, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def load(url: str, script: str, duration: int, concurrency: tuple[int, ...]) -> dict[str, dict[str, float]]:
    wrk(url, script, 4, 2)  # warm-up
    result = {f"c{c}": wrk(url, script, c, duration) for c in concurrency}
    print("   ", json.dumps(result), flush=True)
    return result


# --- process management -------------------------------------------------------------------------


@contextmanager
def process(
    cmd: list[str],
    ready: Callable[[], bool],
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a peer, wait until ``ready``, and on exit stop it and everything it started."""
    out = log.open("wb")
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=env or os.environ.copy(), start_new_session=True
    )
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[:3]} not ready in {timeout} s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        seen = descendants(proc.pid)
        yield proc
    finally:
        seen.update(descendants(proc.pid))
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        terminate(still_running(seen))
        out.close()


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@contextmanager
def centre(work: Path, home: Path, replicas: int, tag: str) -> Iterator[tuple[int, int]]:
    """The capability centre on ``home``, started the way `brain up` starts it; yields its HTTP and
    gRPC ports."""
    port, grpc_port = free_port(), free_port()
    ready = work / f"{tag}-ready.json"
    env = {**os.environ, "BRAIN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "deploy.embedded.runner", "--home", str(home), "--port", str(port),
        "--grpc-port", str(grpc_port), "--dashboard-port", str(free_port()), "--replicas", str(replicas),
        "--ready-file", str(ready),
    ]  # fmt: skip
    healthy = http_ok(f"http://127.0.0.1:{port}/v2/health/ready")
    with process(cmd, lambda: ready.exists() and healthy(), work / f"{tag}.log", env):
        yield port, grpc_port


# --- the peers ----------------------------------------------------------------------------------


def prepare_centre(home: Path, components: int = 0) -> tuple[str, Path]:
    """Register the MLP (and ``components`` small ones); a tenant with no practical limits; its key."""
    from deploy.settings import PlatformSettings
    from deploy.tenancy import Role, TenantSpec, TenantStore
    from deploy.tenancy.bootstrap import ensure_operator
    from tests import onnx_models

    registry = Registry(HubSettings(home=home))
    model = torch_to_onnx(mlp_module(), mlp_card(), {"x": np.ones((4, 32), np.float32)})
    registry.register_onnx(mlp_card(), model)
    registry.promote("mlp", 1)
    for i in range(components):
        card = mlp_card(f"small-{i:03d}", n_in=4)
        registry.register_onnx(card, onnx_models.linear(seed=i))
    path = registry.load("mlp").path
    registry.close()
    store = TenantStore.open(PlatformSettings(home=home))
    store.create_tenant(
        TenantSpec(
            name="bench",
            display="bench",
            kind="enterprise",
            industries=["high-end-chemicals"],
            city="jinan",
            rate_per_second=1e7,
            burst=10_000_000,
            monthly_quota=2_000_000_000,
        ),
        actor="bench",
    )
    key = store.issue_key("bench", Role.consumer, "bench").secret
    operator = ensure_operator(store)
    if operator is not None:
        (home / "operator.key").write_text(operator.secret)
    return key, path


def oip_body(n: int = 32) -> str:
    return json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, n], "data": ROW[:n]}]})


def ceiling(model_path: Path, seconds: float = 3.0) -> dict[str, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    x = np.asarray([ROW], np.float32)
    body = oip_body()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, {"x": x})
        n += 1
    raw = n / (time.perf_counter() - start)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        doc = json.loads(body)
        t = doc["inputs"][0]
        (y,) = session.run(None, {"x": np.asarray(t["data"], np.float32).reshape(t["shape"])})
        json.dumps(
            {"outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 1], "data": y.reshape(-1).tolist()}]}
        )
        n += 1
    with_json = n / (time.perf_counter() - start)
    return {"inferences_per_s": round(raw), "with_json_per_s": round(with_json)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    results: dict[str, Any] = {"duration_s": args.duration, "replicas": args.replicas, "peers": {}}
    conc = (1, 16, 64)
    home = work / "home"
    key, model_dir = prepare_centre(home)
    onnx_path = model_dir / "model.onnx"
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    if "e" in args.peers:
        print("(e) onnxruntime in-process …", flush=True)
        results["peers"]["e_onnxruntime_inprocess"] = ceiling(onnx_path)
    if "a" in args.peers:
        run_centre(work, home, auth, args, conc, results)
    if "b" in args.peers:
        run_mlflow(work, model_dir, args, conc, results)
    if "c" in args.peers:
        run_mlserver(work, model_dir, args, conc, results)
    if "d" in args.peers:
        run_plain(work, onnx_path, args, conc, results, same_settings=False)
        run_plain(work, onnx_path, args, conc, results, same_settings=True)
    if args.components:
        print(f"multiplexing: {args.components} components …", flush=True)
        results["multiplexing"] = multiplexing(work, args)
    shutil.rmtree(work, ignore_errors=True)
    return results


def run_centre(
    work: Path,
    home: Path,
    auth: dict[str, str],
    args: argparse.Namespace,
    conc: tuple[int, ...],
    results: dict[str, Any],
) -> None:
    script = lua(work / "a.lua", oip_body(), auth)
    body = grpc_body(work / "a.grpc", "mlp")
    metadata = {"authorization": auth["Authorization"]}
    print("(a0) capability centre as `brain up` runs it: 1 replica, no batching …", flush=True)
    with centre(work, home, 1, "centre-default") as (port, grpc_port):
        url = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
        results["peers"]["a0_capability_centre_default"] = load(url, script, args.duration, conc)
        results["peers"]["ga0_capability_centre_default_grpc"] = load_grpc(
            f"127.0.0.1:{grpc_port}", body, metadata, args.duration, conc
        )
    print(f"(a) capability centre tuned: {args.replicas} replicas, then dynamic batching …", flush=True)
    with centre(work, home, args.replicas, "centre") as (port, grpc_port):
        url = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
        ours = results["peers"]["a_capability_centre"] = load(url, script, args.duration, conc)
        target = f"127.0.0.1:{grpc_port}"
        theirs = results["peers"]["ga_capability_centre_grpc"] = load_grpc(
            target, body, metadata, args.duration, conc
        )
        # c64 again with dynamic batching on: the policy reaches the replicas with their next
        # route refresh (every 2 s); wait for the batch histogram to move before measuring.
        registry = Registry(HubSettings(home=home))
        registry.set_serving("mlp", ServingPolicy(max_batch_size=32, batch_wait_ms=1.0))
        registry.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _batching(port, home):
            wrk(url, script, 16, 1)
        ours["c64_batched"] = wrk(url, script, 64, args.duration)
        print("    c64 with batching:", json.dumps(ours["c64_batched"]), flush=True)
        ours["c16_batched"] = wrk(url, script, 16, args.duration)
        print("    c16 with batching:", json.dumps(ours["c16_batched"]), flush=True)
        grpc_url = f"http://{target}/inference.GRPCInferenceService/ModelInfer"
        for c in (16, 64):
            theirs[f"c{c}_batched"] = h2load(grpc_url, body, metadata, c, args.duration)
            print(f"    gRPC c{c} with batching:", json.dumps(theirs[f"c{c}_batched"]), flush=True)


def _batching(port: int, home: Path) -> bool:
    """Whether the replica that answers has merged calls of the MLP (its batch histogram moved)."""
    import urllib.request

    # /metrics is for the platform's operators: the key `prepare_centre` issued them.
    auth = {"Authorization": f"Bearer {(home / 'operator.key').read_text()}"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=auth)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    match = re.search(r'brain_batch_requests_count\{component="mlp"\} (\S+)', text)
    return match is not None and float(match.group(1)) > 0


def run_mlflow(
    work: Path, model_dir: Path, args: argparse.Namespace, conc: tuple[int, ...], results: dict[str, Any]
) -> None:
    print("(b) mlflow models serve …", flush=True)
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "-w",
        "2",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    # mlflow starts uvicorn through the shell, so the venv's bin must be on PATH.
    venv_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with process(cmd, http_ok(f"http://127.0.0.1:{port}/ping"), work / "mlflow.log", venv_env):
        body = json.dumps({"inputs": {"x": [ROW]}})
        script = lua(work / "b.lua", body, {"Content-Type": "application/json"})
        results["peers"]["b_mlflow_models_serve"] = load(
            f"http://127.0.0.1:{port}/invocations", script, args.duration, conc
        )


def run_mlserver(
    work: Path, model_dir: Path, args: argparse.Namespace, conc: tuple[int, ...], results: dict[str, Any]
) -> None:
    mlserver = Path(args.mlserver_venv) / "bin" / "mlserver" if args.mlserver_venv else None
    if mlserver and mlserver.exists():
        print("(c) MLServer + MLflow runtime …", flush=True)
        repo = work / "mlserver"
        (repo / "mlp").mkdir(parents=True)
        port, grpc_port = free_port(), free_port()
        (repo / "settings.json").write_text(
            json.dumps(
                {
                    "http_port": port,
                    "grpc_port": grpc_port,
                    "metrics_port": free_port(),
                    "host": "127.0.0.1",
                }
            )
        )
        (repo / "mlp" / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": "mlp",
                    "implementation": "mlserver_mlflow.MLflowRuntime",
                    "parameters": {"uri": str(model_dir)},
                }
            )
        )
        with process(
            [str(mlserver), "start", str(repo)],
            http_ok(f"http://127.0.0.1:{port}/v2/models/mlp/ready"),
            work / "mlserver.log",
        ):
            script = lua(work / "c.lua", oip_body(), {"Content-Type": "application/json"})
            results["peers"]["c_mlserver_mlflow"] = load(
                f"http://127.0.0.1:{port}/v2/models/mlp/infer", script, args.duration, conc
            )
            results["peers"]["gc_mlserver_mlflow_grpc"] = load_grpc(
                f"127.0.0.1:{grpc_port}", grpc_body(work / "c.grpc", "mlp"), {}, args.duration, conc
            )
    else:
        results["peers"]["c_mlserver_mlflow"] = {"skipped": "no --mlserver-venv with MLServer 1.7 installed"}


def run_plain(
    work: Path,
    onnx_path: Path,
    args: argparse.Namespace,
    conc: tuple[int, ...],
    results: dict[str, Any],
    *,
    same_settings: bool,
) -> None:
    from deploy.embedded.runner import SERVE_ENV

    tag = "d2" if same_settings else "d"
    print(
        f"({tag}) plain Ray Serve{' with the centre’s Serve settings' if same_settings else ''} …", flush=True
    )
    port = free_port()
    ready_d = work / f"{tag}-ready"
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "peers" / "plain_serve.py"),
        str(onnx_path),
        str(port),
        str(args.replicas),
        str(ready_d),
    ]
    env = {k: v for k, v in os.environ.items() if k not in SERVE_ENV}
    if same_settings:
        env.update(SERVE_ENV)
    with process(cmd, ready_d.exists, work / f"{tag}.log", env):
        time.sleep(2)  # HAProxy (or the proxy) picks the app up just after serve.run returns
        script = lua(work / f"{tag}.lua", oip_body(), {"Content-Type": "application/json"})
        key = "d2_plain_ray_serve_same_settings" if same_settings else "d_plain_ray_serve"
        results["peers"][key] = load(f"http://127.0.0.1:{port}/", script, args.duration, conc)


def multiplexing(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from deploy.centre.runtimes import OnnxRuntime

    home = work / "mux-home"
    t0 = time.perf_counter()
    key, _ = prepare_centre(home, components=args.components)
    registration_s = time.perf_counter() - t0
    # Cold load, as a replica does it on a cache miss: the version's record comes with the routes
    # (read in bulk), then fetch + verify sha256 + open the ONNX session.
    registry = Registry(HubSettings(home=home))
    routes = registry.all_info()
    cold = []
    for i in range(min(100, args.components)):
        start = time.perf_counter()
        OnnxRuntime(registry.fetch(routes[f"small-{i:03d}"].versions[0]))
        cold.append((time.perf_counter() - start) * 1000)
    registry.close()
    for cache in (home / "cache").glob("small-*"):
        shutil.rmtree(cache)  # the centre starts cold
    names = [f"small-{i:03d}" for i in range(args.components)]
    body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})
    script = work / "zipf.lua"
    script.write_text(
        "local names = {" + ",".join(json.dumps(n) for n in names) + "}\n"
        "local n = #names\nlocal cdf = {}\nlocal total = 0\n"
        "for i = 1, n do total = total + 1 / i end\nlocal acc = 0\n"
        "for i = 1, n do acc = acc + (1 / i) / total; cdf[i] = acc end\n"
        "local count = 0\n"
        "request = function()\n"
        "  count = count + 1\n"
        "  local idx\n"
        "  if count <= n then idx = count else\n"  # first pass touches every component once
        "    local r = math.random(); local lo, hi = 1, n\n"
        "    while lo < hi do local mid = math.floor((lo + hi) / 2); if cdf[mid] < r then lo = mid + 1 else hi = mid end end\n"
        "    idx = lo end\n"
        f"  return wrk.format('POST', '/v2/models/' .. names[idx] .. '/infer', "
        f"{{['Authorization'] = 'Bearer {key}', ['Content-Type'] = 'application/json'}}, {json.dumps(body)})\n"
        "end\n"
    )
    with centre(work, home, args.replicas, "mux") as (port, _):
        stream = wrk(f"http://127.0.0.1:{port}", str(script), 16, max(args.duration * 2, 15))
    return {
        "components": args.components,
        "registration_s": round(registration_s, 1),
        "zipf_c16": stream,
        "cold_load_ms": {
            "p50": round(statistics.median(cold), 2),
            "p95": round(sorted(cold)[int(0.95 * len(cold)) - 1], 2),
        },
    }


def report(results: dict[str, Any]) -> None:
    peers = results["peers"]
    print(
        f"\n{'server':28} {'c1 rps':>8} {'c1 p50':>8} {'c16 rps':>8} {'c16 p50':>8} {'c16 p99':>8} {'c64 rps':>8}"
    )
    for name, r in peers.items():
        if "c16" not in r:
            print(f"{name:28} {json.dumps(r)}")
            continue
        if "p50_ms" not in r["c1"]:  # gRPC (h2load): mean latency in the p50 columns, max in p99's
            print(
                f"{name:28} {r['c1']['rps']:8.0f} {r['c1']['mean_ms']:7.2f}m {r['c16']['rps']:8.0f} "
                f"{r['c16']['mean_ms']:7.2f}m {r['c16']['max_ms']:7.2f}x {r['c64']['rps']:8.0f}"
            )
            continue
        print(
            f"{name:28} {r['c1']['rps']:8.0f} {r['c1']['p50_ms']:8.2f} {r['c16']['rps']:8.0f} "
            f"{r['c16']['p50_ms']:8.2f} {r['c16']['p99_ms']:8.2f} {r['c64']['rps']:8.0f}"
        )
    ours = peers.get("a_capability_centre")
    # The peers as the issue defines them; (d2) is the control with the centre's Serve settings.
    others = {k: v for k, v in peers.items() if k[0] in "bcd" and not k.startswith("d2") and "c16" in v}
    if ours is None or not others:
        return
    best = max(others, key=lambda k: others[k]["c16"]["rps"])
    ratios = {
        "best_peer_c16": best,
        "ratio_c16_rps_to_best_peer": round(ours["c16"]["rps"] / others[best]["c16"]["rps"], 3),
        "ratio_c1_rps_to_best_peer": round(
            ours["c1"]["rps"] / max(v["c1"]["rps"] for v in others.values()), 3
        ),
        "our_c1_p50_ms": ours["c1"]["p50_ms"],
    }
    standalone = {k: v for k, v in others.items() if k[0] in "bc"}
    if standalone:
        best_alone = max(standalone, key=lambda k: standalone[k]["c16"]["rps"])
        ratios["best_standalone_server_c16"] = best_alone
        ratios["ratio_c16_rps_to_best_standalone_server"] = round(
            ours["c16"]["rps"] / standalone[best_alone]["c16"]["rps"], 3
        )
    if "c64_batched" in ours:
        ratios["c64_batched_rps"] = ours["c64_batched"]["rps"]
        ratios["ratio_c64_batched_rps_to_best_peer_c64"] = round(
            ours["c64_batched"]["rps"] / max(v["c64"]["rps"] for v in others.values()), 3
        )
    control = peers.get("d2_plain_ray_serve_same_settings")
    if control is not None and "c16" in control:
        ratios["ratio_c16_rps_to_plain_serve_same_settings"] = round(
            ours["c16"]["rps"] / control["c16"]["rps"], 3
        )
        ratios["ratio_c1_rps_to_plain_serve_same_settings"] = round(
            ours["c1"]["rps"] / control["c1"]["rps"], 3
        )
    if "c16_batched" in ours:
        ratios["c16_batched_rps"] = ours["c16_batched"]["rps"]
        ratios["ratio_c16_batched_rps_to_best_peer"] = round(
            ours["c16_batched"]["rps"] / others[best]["c16"]["rps"], 3
        )
        if control is not None and "c16" in control:
            ratios["ratio_c16_batched_rps_to_plain_serve_same_settings"] = round(
                ours["c16_batched"]["rps"] / control["c16"]["rps"], 3
            )
    ours_grpc, mlserver_grpc = peers.get("ga_capability_centre_grpc"), peers.get("gc_mlserver_mlflow_grpc")
    if ours_grpc is not None and mlserver_grpc is not None:
        for c in ("c1", "c16", "c64"):
            ratios[f"ratio_grpc_{c}_rps_to_mlserver_grpc"] = round(
                ours_grpc[c]["rps"] / mlserver_grpc[c]["rps"], 3
            )
        ratios["ratio_grpc_c16_rps_to_our_rest"] = round(ours_grpc["c16"]["rps"] / ours["c16"]["rps"], 3)
    results["ratios"] = ratios
    print(json.dumps(ratios, indent=1))
    if "multiplexing" in results:
        print(json.dumps(results["multiplexing"], indent=1))


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peers = {k: v for k, v in results["peers"].items() if "c16" in v}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = list(peers)
    for ax, metric, title in ((axes[0], "rps", "requests/s"), (axes[1], "p50_ms", "p50 latency (ms)")):
        width = 0.25
        for i, c in enumerate(("c1", "c16", "c64")):
            ax.bar(
                [j + i * width for j in range(len(names))],
                [peers[n][c].get(metric, peers[n][c].get("mean_ms", 0.0)) for n in names],
                width,
                label=c,
            )
        ax.set_xticks(
            [j + width for j in range(len(names))],
            [n.split("_", 1)[1] for n in names],
            rotation=20,
            fontsize=8,
        )
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--mlserver-venv", default="")
    parser.add_argument("--components", type=int, default=500)
    parser.add_argument("--peers", default="abcde", help="which of the peers (a)-(e) to run, e.g. 'ab'")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "serving.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (make bench installs it)")
    results = run(args)
    report(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
