"""The embedded platform of `brain up` / `brain down`: one machine, no servers to install.

- `platform` — starts, records and stops the local processes (MLflow on SQLite, the centre's runner,
  the scheduler) under ``$BRAIN_HOME/run``;
- `runner` — the process that holds the centre's local Ray head and Serve applications;
- `proctree` — finding and stopping, by process id, what a platform process started.

May import every other part of `deploy`; only the CLI imports it.
"""
