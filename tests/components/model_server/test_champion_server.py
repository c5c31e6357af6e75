"""images/modelserver/champion_server.py against a real MLflow registry (SQLite) and real sklearn models.

It serves the alias's version over MLflow's scoring protocol, swaps to a new champion on the next check,
keeps the old version serving when a new one fails to load, and is healthy only while it works.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.ensemble import IsolationForest

from testing.program import REPO_ROOT

NAME, ALIAS = "anomaly-detector", "champion"
FEATURES = ["vehicle_count", "avg_speed_kmh", "occupancy_pct", "hour_sin", "hour_cos", "is_weekend",
            "count_log_ratio", "speed_delta", "occupancy_delta"]


def _module() -> ModuleType:
    path = REPO_ROOT / "images/modelserver/champion_server.py"
    spec = importlib.util.spec_from_file_location("champion_server", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


server = _module()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two registered versions of the model (the alias on version 1)."""
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        experiment = mlflow.create_experiment("serving", artifact_location=(root / "artifacts").as_uri())
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=FEATURES)
        versions = []
        for seed in (1, 2):
            model = IsolationForest(n_estimators=20, random_state=seed).fit(frame)
            with mlflow.start_run(experiment_id=experiment):
                info = mlflow.sklearn.log_model(
                    model, name="model", signature=infer_signature(frame.head(3), model.predict(frame.head(3))),
                    input_example=frame.head(3), serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
                    pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
                )
            versions.append(str(mlflow.register_model(info.model_uri, NAME).version))
        MlflowClient().set_registered_model_alias(NAME, ALIAS, versions[0])
        yield versions
        mlflow.set_tracking_uri(None)


@pytest.fixture
def holder(registry: list[str], monkeypatch: pytest.MonkeyPatch):
    MlflowClient().set_registered_model_alias(NAME, ALIAS, registry[0])
    fresh = server.ChampionHolder(NAME, ALIAS)
    monkeypatch.setattr(server, "holder", fresh)
    return fresh


@pytest.fixture
def http() -> TestClient:
    return TestClient(server.app)  # no `with`: the lifespan's poller thread is not started


def _rows(n: int = 2) -> dict:
    data = [[0.0] * len(FEATURES) for _ in range(n - 1)] + [[1e4] * len(FEATURES)]
    return {"dataframe_split": {"columns": FEATURES, "data": data}}


def test_the_champion_is_served_with_its_version(holder, http, registry):
    assert holder.refresh() is True
    response = http.post("/invocations", json=_rows())
    assert response.status_code == 200
    assert response.json()["predictions"][-1] == -1 and set(response.json()["predictions"]) <= {1, -1}
    assert response.headers["X-Model-Version"] == registry[0]


def test_the_model_endpoint_names_the_inputs_and_an_example_row(holder, http, registry):
    holder.refresh()
    model = http.get("/model").json()
    assert model["version"] == registry[0] and model["inputs"] == FEATURES
    assert set(model["example"]) == set(FEATURES)


def test_a_moved_alias_is_served_at_the_next_check(holder, http, registry):
    holder.refresh()
    MlflowClient().set_registered_model_alias(NAME, ALIAS, registry[1])
    assert holder.refresh() is True
    assert http.post("/invocations", json=_rows()).headers["X-Model-Version"] == registry[1]
    assert holder.refresh() is False  # nothing moved: nothing reloaded


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(holder, http, registry, monkeypatch):
    holder.refresh()
    MlflowClient().set_registered_model_alias(NAME, ALIAS, registry[1])

    def broken(uri: str):
        raise OSError(f"cannot read {uri}")

    monkeypatch.setattr(holder, "_loader", broken)
    assert holder.refresh() is False
    assert http.post("/invocations", json=_rows()).headers["X-Model-Version"] == registry[0]
    model = http.get("/model").json()
    assert model["version"] == registry[0] and model["champion_version"] == registry[1]
    assert "cannot read models:/anomaly-detector/" in model["last_error"]
    assert http.get("/health").status_code == 200  # still serving a champion


def test_input_that_does_not_match_the_signature_is_a_400(holder, http):
    holder.refresh()
    response = http.post("/invocations", json={"dataframe_split": {"columns": ["vehicle_count"], "data": [[1.0]]}})
    assert response.status_code == 400


def test_without_a_champion_it_is_healthy_but_predicts_nothing(registry, http, monkeypatch):
    waiting = server.ChampionHolder("no-such-model", ALIAS)
    monkeypatch.setattr(server, "holder", waiting)
    assert waiting.refresh() is False
    health = http.get("/health")
    assert health.status_code == 200 and health.json()["version"] is None
    assert http.get("/ping").status_code == 503
    refused = http.post("/invocations", json=_rows())
    assert refused.status_code == 503 and "no version of no-such-model" in refused.json()["message"]


def test_a_denial_for_a_model_the_login_cannot_see_means_no_champion_yet(http, monkeypatch):
    """MLflow's basic auth answers a non-admin "Permission denied" for a model that does not exist."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

    class Auth:
        def get_model_version_by_alias(self, name: str, alias: str):
            raise MlflowException("Permission denied", error_code=PERMISSION_DENIED)

        def search_registered_models(self, filter_string: str, max_results: int):
            return []

    waiting = server.ChampionHolder(NAME, ALIAS, client_factory=Auth)
    monkeypatch.setattr(server, "holder", waiting)
    assert waiting.refresh() is False
    assert http.get("/health").status_code == 200 and waiting.champion_version is None


def test_a_denial_for_a_model_the_login_can_see_is_an_error(http, monkeypatch):
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

    class Denied:
        def get_model_version_by_alias(self, name: str, alias: str):
            raise MlflowException("Permission denied", error_code=PERMISSION_DENIED)

        def search_registered_models(self, filter_string: str, max_results: int):
            return ["anomaly-detector"]

    denied = server.ChampionHolder(NAME, ALIAS, client_factory=Denied)
    monkeypatch.setattr(server, "holder", denied)
    assert denied.refresh() is False
    health = http.get("/health")
    assert health.status_code == 503 and "Permission denied" in health.json()["last_error"]


def test_an_unreachable_registry_with_nothing_loaded_is_unhealthy(http, monkeypatch):
    class Down:
        def get_model_version_by_alias(self, name: str, alias: str):
            raise ConnectionError("connection refused")

    stuck = server.ChampionHolder(NAME, ALIAS, client_factory=Down)
    monkeypatch.setattr(server, "holder", stuck)
    assert stuck.refresh() is False
    health = http.get("/health")
    assert health.status_code == 503 and "connection refused" in health.json()["last_error"]


def test_a_registry_outage_keeps_the_loaded_champion_serving(holder, http, registry, monkeypatch):
    holder.refresh()

    class Down:
        def get_model_version_by_alias(self, name: str, alias: str):
            raise ConnectionError("connection refused")

    monkeypatch.setattr(holder, "_client_factory", Down)
    assert holder.refresh() is False
    assert http.get("/health").status_code == 200
    assert http.post("/invocations", json=_rows()).headers["X-Model-Version"] == registry[0]


def test_refresh_on_demand_reports_the_version(holder, http, registry):
    body = http.post("/model/refresh").json()
    assert body["changed"] is True and body["version"] == registry[0]
