"""Environment contract, Airbyte settings, and the data-dir fallbacks."""

from __future__ import annotations

import pandas as pd
import pytest

from mlpipelines import datasets, settings
from mlpipelines.validation import DataValidationError


def test_data_dir_defaults_to_the_container_volume(monkeypatch):
    monkeypatch.delenv("MLPLATFORM_DATA_DIR", raising=False)
    assert str(settings.data_dir()) == "/opt/airflow/data"
    monkeypatch.setenv("MLPLATFORM_DATA_DIR", "/srv/data")
    assert str(settings.raw_dataset_path()) == "/srv/data/raw/traffic_hourly.csv"
    assert str(settings.scores_dir()) == "/srv/data/scores"


@pytest.mark.parametrize(
    ("env", "enabled", "connection"),
    [
        ({}, False, ""),
        ({"MLPLATFORM_AIRBYTE_ENABLED": "false", "MLPLATFORM_AIRBYTE_CONNECTION_ID": "abc"}, False, "abc"),
        ({"MLPLATFORM_AIRBYTE_ENABLED": "True", "MLPLATFORM_AIRBYTE_CONNECTION_ID": " 1f0e "}, True, "1f0e"),
        ({"MLPLATFORM_AIRBYTE_ENABLED": "1"}, True, ""),
    ],
)
def test_airbyte_settings_from_environment(env, enabled, connection):
    parsed = settings.airbyte_settings(env)
    assert (parsed.enabled, parsed.connection_id) == (enabled, connection)


def test_enabled_airbyte_without_connection_id_says_what_to_set():
    airbyte = settings.airbyte_settings({"MLPLATFORM_AIRBYTE_ENABLED": "true", "MLPLATFORM_AIRBYTE_CONNECTION_ID": ""})
    with pytest.raises(settings.AirbyteSettingsError, match=r"set airbyte\.connection_id in the stack config"):
        airbyte.require_connection_id()
    assert settings.airbyte_settings({"MLPLATFORM_AIRBYTE_CONNECTION_ID": "uuid-1"}).require_connection_id() == "uuid-1"


def test_training_dataset_falls_back_to_generator_and_says_so(tmp_path, caplog):
    caplog.set_level("WARNING", logger="mlpipelines.datasets")
    first = datasets.ensure_training_dataset(tmp_path)
    assert first["source"] == "bundled-generator"
    assert "not found" in caplog.text and "bundled generator" in caplog.text
    assert len(pd.read_csv(first["path"])) == 365 * 24 * 3
    assert datasets.ensure_training_dataset(tmp_path)["source"] == "transform_data"


def test_transform_reads_landed_raw_data_and_rejects_bad_data(tmp_path):
    raw = datasets.land_bundled_raw_data(tmp_path)
    result = datasets.build_training_dataset(tmp_path)
    assert result["source"] == str(raw)
    assert result["rows"] == 365 * 24 * 3
    written = pd.read_csv(result["path"])
    assert list(written.columns) == [
        "timestamp",
        "sensor_id",
        "vehicle_count",
        "avg_speed_kmh",
        "occupancy_pct",
        "temperature_c",
        "is_anomaly",
        "anomaly_type",
    ]

    frame = pd.read_csv(raw)
    frame.loc[10, "avg_speed_kmh"] = 999.0
    frame.to_csv(raw, index=False)
    with pytest.raises(DataValidationError, match=r"column 'avg_speed_kmh' has 1 value\(s\) outside \[0, 250\]"):
        datasets.build_training_dataset(tmp_path)


def test_the_dags_and_the_config_agree_on_the_landing_file_and_pyairbyte():
    """The DAG side cannot import the program's modules (not in the image): the shared values are checked here."""
    from pathlib import Path

    from components.ingestion import PYAIRBYTE_PYTHON
    from config.models import BUNDLED_LANDING_FILE
    from mlpipelines import settings
    from testing.program import REPO_ROOT

    assert str(settings.landing_file_path(Path(settings.DEFAULT_DATA_DIR))) == BUNDLED_LANDING_FILE
    assert f'"{PYAIRBYTE_PYTHON}"' in (REPO_ROOT / "dags" / "ingest_data.py").read_text()
