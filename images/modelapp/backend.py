"""What the model app reads and calls, without Streamlit: MLflow's REST API, the batch scores, the model server.

- the champion: ``GET /api/2.0/mlflow/registered-models/alias`` and the run's metrics, logged in
  with the app's own MLflow user from ``~/.mlflow/credentials`` (the MLflow client's file; never env);
- the latest batch scores: the CSV the training DAG's batch-scoring step writes to Airflow's data
  volume, mounted read-only here (``MLPLATFORM_DATA_DIR``);
- scoring: ``POST /invocations`` on the model server (MLflow's scoring protocol, ``dataframe_split``),
  whose ``/model`` names the input columns and the version it serves.
"""

from __future__ import annotations

import configparser
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import requests

MODEL_NAME = os.environ.get("MODEL_NAME", "anomaly-detector")
MODEL_ALIAS = os.environ.get("MODEL_ALIAS", "champion")
SCORES_FILE = "scores/anomaly_scores.csv"
#: Metrics shown first (the promotion metric, then what an operator reads).
HEADLINE_METRICS = ("holdout_average_precision", "holdout_f1", "anomaly_rate")
TIMEOUT_S = 15


def mlflow_url() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", "http://mlflow:5000").rstrip("/")


def model_server_url() -> str:
    return os.environ.get("MODEL_SERVER_URL", "http://modelserver:8080").rstrip("/")


def scores_path() -> Path:
    return Path(os.environ.get("MLPLATFORM_DATA_DIR", "/data")) / SCORES_FILE


def mlflow_login(path: Path | None = None) -> tuple[str, str] | None:
    """(user, password) from the MLflow client's credentials file, or None (a server without auth)."""
    path = path or Path.home() / ".mlflow" / "credentials"
    if not path.is_file():
        return None
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section("mlflow"):
        return None
    user = parser.get("mlflow", "mlflow_tracking_username", fallback=None)
    password = parser.get("mlflow", "mlflow_tracking_password", fallback=None)
    return (user, password) if user and password else None


@dataclass(frozen=True)
class Champion:
    version: str
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def headline(self) -> list[tuple[str, float]]:
        return [(key, self.metrics[key]) for key in HEADLINE_METRICS if key in self.metrics]


class NoChampion(LookupError):
    """The registered model has no version with the alias yet (the training DAG has not promoted one)."""


def champion(session: requests.Session | None = None) -> Champion:
    http = session or requests.Session()
    login = mlflow_login()
    response = http.get(f"{mlflow_url()}/api/2.0/mlflow/registered-models/alias",
                        params={"name": MODEL_NAME, "alias": MODEL_ALIAS}, auth=login, timeout=TIMEOUT_S)
    if response.status_code == 404:
        raise NoChampion(f"{MODEL_NAME} has no version with the alias {MODEL_ALIAS} yet")
    if response.status_code == 403:  # MLflow's auth says this to a non-admin for a model that does not exist
        raise NoChampion(f"no version of {MODEL_NAME} with the alias {MODEL_ALIAS} is visible to the app yet "
                         "(none registered, or no permission)")
    response.raise_for_status()
    version = response.json()["model_version"]
    run = http.get(f"{mlflow_url()}/api/2.0/mlflow/runs/get", params={"run_id": version["run_id"]},
                   auth=login, timeout=TIMEOUT_S)
    run.raise_for_status()
    data = run.json()["run"]["data"]
    return Champion(
        version=str(version["version"]),
        run_id=str(version["run_id"]),
        metrics={m["key"]: float(m["value"]) for m in data.get("metrics", [])},
        tags={t["key"]: t["value"] for t in version.get("tags", [])},
    )


def latest_scores(path: Path | None = None) -> pd.DataFrame | None:
    """The latest batch scores, or None before the first batch-scoring run."""
    path = path or scores_path()
    if not path.is_file():
        return None
    return pd.read_csv(path, parse_dates=["timestamp"])


def anomalies(scores: pd.DataFrame, limit: int = 50) -> pd.DataFrame:
    flagged = scores[scores["is_predicted_anomaly"] == 1]
    return flagged.sort_values("anomaly_score", ascending=False).head(limit)


def score_chart(scores: pd.DataFrame) -> pd.DataFrame:
    """Anomaly score over time, one column per sensor (what st.line_chart draws)."""
    return scores.pivot_table(index="timestamp", columns="sensor_id", values="anomaly_score")


def served_model(session: requests.Session | None = None) -> dict[str, Any]:
    response = (session or requests.Session()).get(f"{model_server_url()}/model", timeout=TIMEOUT_S)
    response.raise_for_status()
    return dict(response.json())


@dataclass(frozen=True)
class Scored:
    frame: pd.DataFrame
    model_version: str | None


def score(frame: pd.DataFrame, columns: list[str], session: requests.Session | None = None) -> Scored:
    """Predictions of the served champion for ``frame``'s ``columns`` (-1: anomaly, 1: normal)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    payload = {"dataframe_split": frame[columns].astype(float).to_dict(orient="split")}
    payload["dataframe_split"].pop("index", None)
    response = (session or requests.Session()).post(f"{model_server_url()}/invocations", json=payload,
                                                    timeout=TIMEOUT_S)
    if response.status_code >= 400:
        raise RuntimeError(f"model server: HTTP {response.status_code}: {response.text[:300]}")
    predictions = response.json()["predictions"]
    result = frame.copy()
    result["prediction"] = predictions
    result["anomaly"] = [p == -1 for p in predictions]
    return Scored(result, response.headers.get("X-Model-Version"))


def read_upload(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data))
