"""Job kinds: training, batch inference and data governance as programs on Ray, besides any entrypoint.

`kinds` holds what users write for each kind; `runtime` is what the programs read from the scheduler
(their bundles and node group); `governance` is the data-governance program itself.
"""

from scheduler.jobs.kinds import (
    PROGRAMS,
    BatchInferenceParams,
    GovernanceParams,
    Kind,
    TrainingParams,
    program_command,
)

__all__ = [
    "PROGRAMS",
    "BatchInferenceParams",
    "GovernanceParams",
    "Kind",
    "TrainingParams",
    "program_command",
]
