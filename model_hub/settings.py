"""Settings of the component registry (env prefix ``BRAIN_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSettings(BaseSettings):
    """Where the registry keeps its stores and how strict its safety checks are."""

    model_config = SettingsConfigDict(env_prefix="BRAIN_", extra="ignore")

    home: Path = Field(default=Path("~/.industry-brain"))
    """The data folder of the embedded stores (BRAIN_HOME)."""

    mlflow_tracking_uri: str | None = None
    """MLflow tracking/registry URI; default: SQLite at ``$BRAIN_HOME/mlflow.db``."""

    artifact_root: str | None = None
    """Where new experiments store artifacts; default ``$BRAIN_HOME/mlartifacts`` (a file URI)."""

    catalog_path: Path | None = None
    """The catalogue search index (SQLite); default ``$BRAIN_HOME/catalog.db``. Rebuildable from MLflow."""

    max_model_bytes: int = 200_000_000
    """Largest artifact folder accepted at registration, in bytes."""

    formula_packages: list[str] = Field(default_factory=lambda: ["components"])
    """Top-level packages whose functions formula components may reference."""

    verify_atol: float = 1e-4
    """Absolute tolerance when checking a converted ONNX model against the original."""

    verify_rtol: float = 1e-3
    """Relative tolerance for the same check."""

    registry_key: SecretStr | None = None
    """The secret that signs every version's manifest hash (at least 32 characters); in Kubernetes
    from a Secret. Default: the key file below."""

    registry_key_file: Path | None = None
    """Where the registry key is kept when ``registry_key`` is unset; default
    ``$BRAIN_HOME/run/registry_key``, created (mode 0600) at first use."""

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home_dir / 'mlflow.db'}"

    @property
    def artifact_uri(self) -> str:
        return self.artifact_root or (self.home_dir / "mlartifacts").as_uri()

    @property
    def catalog_file(self) -> Path:
        return (self.catalog_path or self.home_dir / "catalog.db").expanduser()
