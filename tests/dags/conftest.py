"""Test isolation for the DAG tests: a temp AIRFLOW_HOME with its own SQLite
metadata DB, and a per-test SQLite MLflow tracking store with artifacts in tmp.

Environment is set at import time, before anything imports airflow, so no test
can read or write ~/airflow. MLflow/telemetry stay local (no network but 127.0.0.1).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO_ROOT / "dags"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mlplatform-airflow-home-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)

os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_AIRFLOW_HOME / "logs"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLPLATFORM_ENVIRONMENT": "test",
    }
)
for _key in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLPLATFORM_DATA_DIR"):
    os.environ.pop(_key, None)
if str(DAGS_DIR) not in sys.path:
    sys.path.insert(0, str(DAGS_DIR))  # as Airflow does for the dags folder


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrated SQLite metadata DB in the temp AIRFLOW_HOME (what dag.test() needs)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy()
    )
    return _AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory) -> Path:
    """Migrate an empty MLflow SQLite store once; tests copy it (migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def local_mlflow(tmp_path, monkeypatch, mlflow_db_template) -> dict:
    """A fresh MLflow tracking store + registry for one test, and a temp MLPLATFORM_DATA_DIR."""
    from mlflow.tracking import MlflowClient

    from mlpipelines import settings

    db = tmp_path / "mlflow.db"
    shutil.copy(mlflow_db_template, db)
    uri = f"sqlite:///{db}"
    data_dir = tmp_path / "data"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLPLATFORM_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)  # anything MLflow writes relative to cwd stays in tmp
    client = MlflowClient(tracking_uri=uri)
    client.create_experiment(settings.EXPERIMENT_NAME, artifact_location=str(tmp_path / "artifacts"))
    return {"uri": uri, "client": client, "data_dir": data_dir, "tmp": tmp_path}
