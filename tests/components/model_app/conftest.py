"""The app's code (images/modelapp/) importable as the image runs it, and fake MLflow and model-server answers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import responses

from testing.program import REPO_ROOT

APP_DIR = REPO_ROOT / "images" / "modelapp"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

MLFLOW = "http://mlflow.test:5000"
SERVER = "http://modelserver.test:8080"
FEATURES = ["vehicle_count", "avg_speed_kmh", "occupancy_pct", "hour_sin", "hour_cos", "is_weekend",
            "count_log_ratio", "speed_delta", "occupancy_delta"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The container's settings, a home without MLflow credentials and an empty data dir."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", MLFLOW)
    monkeypatch.setenv("MODEL_SERVER_URL", SERVER)
    monkeypatch.setenv("MLPLATFORM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def write_scores(data_dir: Path, rows: int = 48, version: str = "3") -> pd.DataFrame:
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2026-01-01", periods=rows, freq="h").repeat(2),
        "sensor_id": ["S1", "S2"] * rows,
        "vehicle_count": range(rows * 2),
        "avg_speed_kmh": 50.0,
        "occupancy_pct": 10.0,
        "anomaly_score": [0.4 + (i % 17) / 100 for i in range(rows * 2)],
        "is_predicted_anomaly": [1 if i % 17 == 16 else 0 for i in range(rows * 2)],
        "model_version": version,
    })
    path = data_dir / "scores" / "anomaly_scores.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    """MLflow with champion version 3 and a model server serving it; no other HTTP."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{MLFLOW}/api/2.0/mlflow/registered-models/alias",
                 json={"model_version": {"name": "anomaly-detector", "version": "3", "run_id": "r3",
                                         "tags": [{"key": "champion_decision", "value": "promoted"}]}})
        mock.get(f"{MLFLOW}/api/2.0/mlflow/runs/get", json={"run": {"data": {"metrics": [
            {"key": "holdout_average_precision", "value": 0.91}, {"key": "anomaly_rate", "value": 0.02}]}}})
        mock.get(f"{SERVER}/model", json={"version": "3", "inputs": FEATURES, "example": dict.fromkeys(FEATURES, 0.5),
                                          "poll_seconds": 30})
        mock.post(f"{SERVER}/invocations", json={"predictions": [1, -1]}, headers={"X-Model-Version": "3"})
        yield mock
