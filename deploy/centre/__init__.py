"""The capability centre (能力中心): components served over the Open Inference Protocol on Ray Serve.

- `app` — the Serve application (one ingress deployment; dedicated per-component applications);
- `gateway` — the HTTP routes (FastAPI) and `build_app`, which puts `fast_path` in front of them;
- `fast_path` — the pure ASGI answer to ``POST …/infer``; `rows` — the rows API;
- `calls` — one inference call through the hot path (auth, admission, resolve, decode, predict,
  encode, meter), shared by every door;
- `inference` — `Centre`: tenancy, routes, runtimes and meters of one replica; `oip` — the codec;
- `runtimes`, `resident`, `batching`, `routing`, `dedicated`, `ingress`, `metrics`, `errors`.

May import `model_hub`, `deploy.tenancy`, `deploy.metering`, `deploy.settings`; not the CLI, the
embedded runner, `deploy.k8s` or the scheduler's loop.
"""
