"""schemathesis over the capability centre's own OpenAPI document, against the real server: no answer
is a server error, and every status it answers is one the document lists for that operation."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from deploy.centre.gateway import build_api
from tests.security.conftest import Server

#: Examples per operation and generation mode: 13 operations × 2 modes × this, about 20 s.
EXAMPLES = 25


def test_the_centre_answers_only_documented_statuses_and_no_server_errors(server: Server) -> None:
    doc: dict[str, Any] = build_api().openapi()
    schema = schemathesis.openapi.from_dict(doc)
    answered: Counter[tuple[str, int]] = Counter()
    server_errors: list[str] = []
    undocumented: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in doc["paths"].values())

    for operation in operations:
        documented = set(doc["paths"][operation.path][operation.method.lower()]["responses"])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            server.centre.keys._failures.clear()  # the no-key and bad-key cases must not lock it out
            try:
                fuzz(server, operation, mode, documented, answered, server_errors, undocumented)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # no parameter to make invalid (e.g. GET /v2)

    assert server_errors == [], server_errors[:10]
    assert undocumented == [], undocumented[:10]
    # The run did reach past the key check, and its refusals.
    statuses = {status for _, status in answered}
    by_status = Counter(status for _, status in answered.elements())
    print(f"schemathesis: {sum(answered.values())} calls, statuses {sorted(by_status.items())}")
    assert {200, 401, 404} <= statuses, answered


def fuzz(
    server: Server,
    operation: Any,
    mode: GenerationMode,
    documented: set[str],
    answered: Counter[tuple[str, int]],
    server_errors: list[str],
    undocumented: list[str],
) -> None:
    """Call ``operation`` with EXAMPLES generated cases, as a consumer, an operator and without a key."""

    @given(case=operation.as_strategy(mode), who=st.sampled_from(["consumer", "operator", None]))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        # The same cases every run, so CI cannot turn red by chance; a new example set comes with a
        # change of EXAMPLES or of the schema. Run with --hypothesis-seed to explore further.
        derandomize=True,
    )
    def run(case: Any, who: str | None) -> None:
        # One address for the whole run, kept off the limit on failed authentications.
        response = case.call(base_url=server.url, headers=server.headers(who, "10.9.9.9"))
        label = f"{case.method} {case.formatted_path} → {response.status_code}"
        answered[operation.label, response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(f"{label}: {response.text[:200]}")
        elif str(response.status_code) not in documented:
            undocumented.append(label)

    run()


@pytest.mark.parametrize(
    "path,statuses",
    [
        ("/metrics", {"200", "401", "403", "429", "503"}),
        (
            "/v2/models/{name}/infer",
            {"200", "400", "401", "403", "404", "409", "410", "413", "422", "429", "503"},
        ),
    ],
)
def test_the_document_lists_the_refusals(path: str, statuses: set[str]) -> None:
    operations = build_api().openapi()["paths"][path]
    (operation,) = operations.values()
    assert set(operation["responses"]) == statuses
    assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
