"""Peer (d) of bench/serving.py: a minimal plain Ray Serve deployment of one ONNX model.

No auth, no metering, no validation. bench/serving.py starts it twice: on Ray Serve's defaults
(peer d, the deployment a user would write), and with the centre's Ray Serve settings
(deploy.embedded.runner.SERVE_ENV: HAProxy ingress, the throughput-optimised mode; the control d2), so the
difference to the centre is what the centre does per request.
Run: python bench/peers/plain_serve.py MODEL.onnx PORT REPLICAS READY_FILE
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import ray
from ray import serve
from ray.serve.config import HTTPOptions
from starlette.requests import Request
from starlette.responses import JSONResponse


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=64)
class Plain:
    def __init__(self, model: bytes) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    async def __call__(self, request: Request) -> JSONResponse:
        doc = json.loads(await request.body())
        tensor = doc["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        (y,) = self.session.run(None, {"x": x})
        return JSONResponse(
            {
                "model_name": "mlp",
                "outputs": [
                    {"name": "y", "datatype": "FP32", "shape": list(y.shape), "data": y.reshape(-1).tolist()}
                ],
            }
        )


def main() -> None:
    model, port, replicas, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    stop = threading.Event()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        serve.start(http_options=HTTPOptions(host="127.0.0.1", port=port))
        serve.run(
            Plain.options(num_replicas=replicas).bind(Path(model).read_bytes()),
            name="plain",
            route_prefix="/",
        )
        Path(ready).write_text("ready")
        stop.wait()
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
