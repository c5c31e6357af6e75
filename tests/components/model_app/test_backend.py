"""What the app reads and calls (images/modelapp/backend.py), against fake MLflow and model-server answers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import responses

import backend
from tests.components.model_app.conftest import FEATURES, MLFLOW, write_scores


def test_the_login_comes_from_the_mlflow_clients_credentials_file(env: Path):
    credentials = env / "home" / ".mlflow" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.write_text("[mlflow]\nmlflow_tracking_username = modelapp\nmlflow_tracking_password = pw-from-file\n")
    assert backend.mlflow_login() == ("modelapp", "pw-from-file")


def test_without_a_credentials_file_there_is_no_login(env: Path):
    assert backend.mlflow_login() is None


def test_the_champion_has_its_version_metrics_and_login(env: Path, fake: responses.RequestsMock):
    credentials = env / "home" / ".mlflow" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.write_text("[mlflow]\nmlflow_tracking_username = modelapp\nmlflow_tracking_password = pw\n")
    champion = backend.champion()
    assert (champion.version, champion.run_id) == ("3", "r3")
    assert champion.headline() == [("holdout_average_precision", 0.91), ("anomaly_rate", 0.02)]
    assert fake.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_no_champion_yet_is_its_own_answer(env: Path):
    with responses.RequestsMock() as mock:
        mock.get(f"{MLFLOW}/api/2.0/mlflow/registered-models/alias", status=404,
                 json={"error_code": "RESOURCE_DOES_NOT_EXIST"})
        with pytest.raises(backend.NoChampion):
            backend.champion()


def test_a_denial_for_a_model_not_registered_yet_is_no_champion(env: Path):
    with responses.RequestsMock() as mock:
        mock.get(f"{MLFLOW}/api/2.0/mlflow/registered-models/alias", status=403, body="Permission denied")
        with pytest.raises(backend.NoChampion, match="none registered, or no permission"):
            backend.champion()


def test_latest_scores_are_none_before_the_first_batch(env: Path):
    assert backend.latest_scores() is None


def test_latest_scores_give_the_anomalies_and_a_chart_per_sensor(env: Path):
    written = write_scores(env / "data")
    scores = backend.latest_scores()
    assert scores is not None and len(scores) == len(written)
    flagged = backend.anomalies(scores)
    assert (flagged["is_predicted_anomaly"] == 1).all() and flagged["anomaly_score"].is_monotonic_decreasing
    assert list(backend.score_chart(scores).columns) == ["S1", "S2"]


def test_scoring_sends_the_models_columns_and_returns_the_served_version(env: Path, fake: responses.RequestsMock):
    frame = pd.DataFrame([dict.fromkeys(FEATURES, 0.0), dict.fromkeys(FEATURES, 9.0)]).assign(note="kept")
    scored = backend.score(frame, FEATURES)
    assert scored.model_version == "3"
    assert list(scored.frame["anomaly"]) == [False, True] and list(scored.frame["note"]) == ["kept", "kept"]
    sent = json.loads(fake.calls[-1].request.body)
    assert sent["dataframe_split"]["columns"] == FEATURES and len(sent["dataframe_split"]["data"]) == 2


def test_a_file_without_the_models_columns_is_refused_before_any_call(env: Path):
    with pytest.raises(ValueError, match="missing columns: hour_sin"):
        backend.score(pd.DataFrame([{c: 1.0 for c in FEATURES if c != "hour_sin"}]), FEATURES)
