"""Names and environment settings shared by the DAGs; import-light on purpose."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

EXPERIMENT_NAME = "anomaly-detection"
SMOKE_EXPERIMENT_NAME = "platform-smoke"
REGISTERED_MODEL_NAME = "anomaly-detector"
CHAMPION_ALIAS = "champion"
# Higher is better. Threshold-free, so it does not depend on the contamination
# setting, and meaningful under heavy class imbalance (unlike accuracy/ROC AUC).
CHAMPION_METRIC = "holdout_average_precision"

RAW_ASSET_URI = "mlplatform://datasets/traffic/raw"
TRAINING_ASSET_URI = "mlplatform://datasets/traffic/training"

DEFAULT_DATA_DIR = "/opt/airflow/data"


def data_dir() -> Path:
    """Shared volume for data sets and scoring outputs (MLPLATFORM_DATA_DIR)."""
    return Path(os.environ.get("MLPLATFORM_DATA_DIR") or DEFAULT_DATA_DIR)


def raw_dataset_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / "raw" / "traffic_hourly.csv"


def landing_file_path(base: Path | None = None) -> Path:
    """The bundled data set's place in the landing folder (the default source's url in the stack config)."""
    return (base or data_dir()) / "landing" / "traffic_hourly.csv"


def ingest_sources_file(environ: dict[str, str] | None = None) -> str:
    """The sources the platform declared (MLPLATFORM_INGEST_SOURCES_FILE); empty without a warehouse."""
    env = os.environ if environ is None else environ
    return (env.get("MLPLATFORM_INGEST_SOURCES_FILE") or "").strip()


def training_dataset_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / "prepared" / "traffic_training.csv"


def features_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / "work" / "traffic_features.csv"


def scores_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "scores"


def deployment_environment() -> str:
    return os.environ.get("MLPLATFORM_ENVIRONMENT") or "dev"


class AirbyteSettingsError(ValueError):
    """Airbyte is enabled but the stack config lacks what the sync needs."""


@dataclass(frozen=True)
class AirbyteSettings:
    enabled: bool
    connection_id: str

    def require_connection_id(self) -> str:
        if not self.connection_id:
            raise AirbyteSettingsError(
                "Airbyte is enabled (MLPLATFORM_AIRBYTE_ENABLED=true) but "
                "MLPLATFORM_AIRBYTE_CONNECTION_ID is empty: set airbyte.connection_id "
                "in the stack config to the UUID of the Airbyte connection to sync."
            )
        return self.connection_id


def airbyte_settings(environ: dict[str, str] | None = None) -> AirbyteSettings:
    env = os.environ if environ is None else environ
    enabled = (env.get("MLPLATFORM_AIRBYTE_ENABLED") or "false").strip().lower() in {"1", "true", "yes", "on"}
    return AirbyteSettings(enabled=enabled, connection_id=(env.get("MLPLATFORM_AIRBYTE_CONNECTION_ID") or "").strip())
