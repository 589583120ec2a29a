"""How the capability centre serves one component: dynamic batching and its own deployment.

Set by operators (`brain components serving NAME …`), stored with the component in MLflow, and read
by every replica with the component's route; the runner turns ``dedicated`` policies into Ray
Serve applications of their own.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ServingPolicy(BaseModel):
    """Batching and scaling of one component. The defaults are what every component gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: int = Field(
        default=1,
        ge=1,
        le=4096,
        description="rows one model call may take from concurrent requests; 1 turns batching off",
    )
    batch_wait_ms: float = Field(
        default=2.0,
        ge=0,
        le=1000,
        description="how long the first request of a batch waits for others to join it",
    )
    dedicated: bool = Field(
        default=False, description="serve this component from a Ray Serve deployment of its own"
    )
    min_replicas: int = Field(
        default=1, ge=0, le=256, description="replicas of the dedicated deployment at least; 0 scales to zero"
    )
    max_replicas: int = Field(
        default=1, ge=1, le=256, description="replicas of the dedicated deployment at most"
    )
    downscale_delay_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="quiet seconds before the autoscaler removes a replica (and reaches zero)",
    )
    target_ongoing_requests: float = Field(
        default=8.0, gt=0, le=1000, description="requests in flight per replica the autoscaler aims for"
    )
    drift_threshold: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="PSI of any feature against the training statistics at which a drift event is raised",
    )

    payload_sample_rate: float = Field(
        default=0.0,
        ge=0,
        le=0.1,
        description="share of successful calls whose inputs and outputs are kept for the owner "
        "(private components only; 0: none, the default)",
    )

    @model_validator(mode="after")
    def _replicas(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})"
            )
        return self

    @property
    def batching(self) -> bool:
        return self.max_batch_size > 1

    def autoscaling_config(self) -> dict[str, float | int]:
        """Ray Serve's autoscaling_config of the dedicated deployment."""
        return {
            "min_replicas": self.min_replicas,
            "initial_replicas": max(self.min_replicas, 1),
            "max_replicas": self.max_replicas,
            "target_ongoing_requests": self.target_ongoing_requests,
            # By default down slowly, and to zero only after a quiet while: a cold start costs seconds.
            "downscale_delay_s": self.downscale_delay_s,
            "upscale_delay_s": 3.0,
        }
