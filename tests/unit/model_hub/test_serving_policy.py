from __future__ import annotations

import pytest
from pydantic import ValidationError

from model_hub import ServingPolicy


def test_defaults_serve_unbatched_from_the_shared_deployment() -> None:
    policy = ServingPolicy()
    assert not policy.batching and not policy.dedicated


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_batch_size": 0}, "greater than or equal to 1"),
        ({"batch_wait_ms": -1}, "greater than or equal to 0"),
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas (3) is above max_replicas (2)"),
        ({"max_replicas": 0}, "greater than or equal to 1"),
        ({"target_ongoing_requests": 0}, "greater than 0"),
        ({"replicas": 2}, "Extra inputs are not permitted"),
    ],
)
def test_bad_policies_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ServingPolicy.model_validate(fields)


def test_scale_to_zero_starts_with_one_replica_and_scales_down_slowly() -> None:
    config = ServingPolicy(dedicated=True, min_replicas=0, max_replicas=4).autoscaling_config()
    assert config["min_replicas"] == 0 and config["initial_replicas"] == 1 and config["max_replicas"] == 4
    assert config["downscale_delay_s"] >= 60
