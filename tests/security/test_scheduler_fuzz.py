"""Schemathesis over the scheduler API's own OpenAPI document: generated requests (valid and invalid) of
every operation, with an operator's key and a tenant's, must get no server error and no status the
document does not list. Bounded in examples per operation, so it runs in seconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.generation import GenerationMode

from deploy.tenancy import Role
from tests.security.scheduler_api import scheduler_api

EXAMPLES = 25
"""Generated requests per operation and key (positive and negative together)."""


def fuzz(
    operation: schemathesis.APIOperation, url: str, headers: dict[str, str], failures: list[str]
) -> Callable[[], None]:
    """A Hypothesis test of one operation that records every finding (not only the first)."""
    cases = operation.as_strategy() | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

    @given(case=cases)
    # derandomize: the same cases every run, so CI cannot turn red by chance.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=headers)
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
        except Exception as exc:
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:300]}")

    return run  # type: ignore[no-any-return]


@pytest.mark.parametrize("who", [("platform", Role.admin), ("jinan-steel", Role.consumer)], ids=str)
def test_no_server_error_and_no_undocumented_status(tmp_path: Path, who: tuple[str, Role]) -> None:
    with scheduler_api(
        f"sqlite:///{tmp_path / 'scheduler.db'}", tmp_path, api_rate_per_second=1e6, api_burst=10**6
    ) as api:
        schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 15  # /healthz and the 14 keyed routes
        failures: list[str] = []
        for operation in operations:
            fuzz(operation, api.url, {"Authorization": f"Bearer {api.keys[who]}"}, failures)()
        assert failures == [], "\n".join(sorted(set(failures)))
