"""Job kinds: training, batch inference and data governance as programs on Ray, besides any entrypoint.

`params` holds what users write for each kind; `runtime` is what the programs read from the scheduler
(their bundles and node group); `units` is the unit table the governance kind validates against. The
programs themselves belong to whoever composes the platform (`SchedulerSettings.job_programs`).
"""

from scheduler.kinds.params import (
    BatchInferenceParams,
    GovernanceParams,
    Kind,
    TrainingParams,
    program_command,
)

__all__ = [
    "BatchInferenceParams",
    "GovernanceParams",
    "Kind",
    "TrainingParams",
    "program_command",
]
