"""deploy: the platform's composition root — everything that puts the model hub, the scheduler and the
components to work for tenants.

Sub-packages, one concern each:

- `deploy.centre` — the capability centre (能力中心) on Ray Serve: the OIP gateway, the fast path, the
  rows API, runtimes, resident models, batching, version routing, dedicated deployments, metrics;
- `deploy.tenancy` — tenants, roles, API keys, visibility, rate limits, the first-run operator, and the
  scheduler API's key check;
- `deploy.metering` — usage counts per tenant × component × day, their flusher and reports;
- `deploy.db` — the platform database's base and migrations (engines come from `scheduler.db`);
- `deploy.jobs` — every program the scheduler runs for the platform (training, batch inference,
  governance);
- `deploy.embedded` — `brain up` / `brain down`: the local processes, the centre's Ray head, the
  process tree;
- `deploy.k8s` — what KubeRay runs in production, from the Helm chart;
- `deploy.cli` — the `brain` command line, one module per command group;
- `deploy.settings` — the platform's settings, and the scheduler's as the platform composes it.

May import `model_hub`, `scheduler` and `components`; none of them imports `deploy`.
"""
