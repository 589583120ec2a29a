"""The programs the scheduler runs for the platform, one module per built-in job kind.

Each is run on a pool's Ray cluster as ``python -m deploy.jobs.MODULE --job-id ID --params JSON``:
`train` (Ray Train, the ``training`` kind), `batch_inference` (Ray Data, ``batch-inference``) and
`governance` (Ray Data, ``governance``). The scheduler knows the kinds' parameters but none of these
modules: the platform registers them in the scheduler's settings (`deploy.settings.scheduler_settings`).

May import `scheduler.kinds` (parameters, runtime), `model_hub` and `components`; nothing else of `deploy`.
"""

PROGRAMS: dict[str, str] = {
    "training": "deploy.jobs.train",
    "batch-inference": "deploy.jobs.batch_inference",
    "governance": "deploy.jobs.governance",
}
"""Module run with ``python -m`` for each built-in kind."""
