"""Training, evaluation, registry and scoring against a real (SQLite) MLflow store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlpipelines import datasets, registry, scoring, settings, training
from mlpipelines.features import FEATURE_COLUMNS
from mlpipelines.plots import PLOT_FILES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WEAK = training.TrainingParams(n_estimators=1, max_samples=8)  # a deliberately poor detector


@pytest.fixture(scope="module")
def features_path(tmp_path_factory) -> str:
    base = tmp_path_factory.mktemp("data")
    dataset = datasets.ensure_training_dataset(base)["path"]
    training.validate_dataset(dataset)
    return training.build_features(dataset, base / "work" / "features.csv")["path"]


def train_evaluate_register(
    features_path: str, params: training.TrainingParams | None = None
) -> tuple[dict, dict, dict]:
    trained = training.train_model(features_path, params)
    metrics = training.evaluate_model(trained["run_id"], trained["model_uri"], features_path)
    decision = registry.register_and_promote(trained["run_id"], trained["model_uri"], features_path)
    return trained, metrics, decision


def champion_version(client) -> str:
    return str(client.get_model_version_by_alias(settings.REGISTERED_MODEL_NAME, settings.CHAMPION_ALIAS).version)


def test_training_run_records_params_metrics_model_and_plots(local_mlflow, features_path, tmp_path):
    import mlflow

    client = local_mlflow["client"]
    trained = training.train_model(features_path)
    metrics = training.evaluate_model(trained["run_id"], trained["model_uri"], features_path)

    run = client.get_run(trained["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "anomaly-detection"
    assert run.data.params["n_estimators"] == "200"
    assert run.data.params["features"] == ",".join(FEATURE_COLUMNS)
    assert run.data.tags["environment"] == "test"
    recorded = run.data.metrics
    assert recorded["holdout_average_precision"] == pytest.approx(metrics["holdout_average_precision"])
    # Meaningful but not trivial: far above the ~2 % base rate, below perfect.
    assert 0.3 < recorded["holdout_average_precision"] < 0.95
    assert recorded["holdout_roc_auc"] > 0.75
    assert 0.0 < recorded["holdout_precision"] <= 1.0 and 0.0 < recorded["holdout_recall"] <= 1.0
    assert recorded["anomaly_rate"] == pytest.approx(0.02, abs=0.02)
    assert recorded["supervised_holdout_average_precision"] > 0.3
    assert {"holdout_recall_incident", "holdout_recall_surge", "holdout_recall_sensor_fault"} <= set(recorded)

    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {f"plots/{name}" for name in PLOT_FILES}
    for name in PLOT_FILES:
        local = client.download_artifacts(run.info.run_id, f"plots/{name}", str(tmp_path))
        with open(local, "rb") as fh:
            assert fh.read(8) == PNG_MAGIC, name
    summary = Path(client.download_artifacts(run.info.run_id, "summary.txt", str(tmp_path))).read_text()
    assert "holdout_average_precision" in summary and "top 10 anomalies" in summary

    info = mlflow.models.get_model_info(trained["model_uri"])
    assert [spec.name for spec in info.signature.inputs.inputs] == FEATURE_COLUMNS
    assert info.saved_input_example_info is not None
    model = mlflow.sklearn.load_model(trained["model_uri"])
    assert type(model).__name__ == "IsolationForest"


def test_champion_alias_moves_only_when_the_new_version_is_better(local_mlflow, features_path, tmp_path):
    client = local_mlflow["client"]

    weak_run, weak_metrics, first = train_evaluate_register(features_path, WEAK)
    assert first["version"] == "1" and first["promoted"] is True
    assert champion_version(client) == "1"
    assert client.get_model_version(settings.REGISTERED_MODEL_NAME, "1").tags[registry.DECISION_TAG] == "promoted"

    good_run, good_metrics, second = train_evaluate_register(features_path)
    assert good_metrics["holdout_average_precision"] > weak_metrics["holdout_average_precision"]
    assert second == {
        "version": "2",
        "promoted": True,
        "reason": second["reason"],
        "previous_champion_version": "1",
        "champion_version": "2",
    }
    assert "rescored on this holdout" in second["reason"]
    assert champion_version(client) == "2"

    # A retried register task does not create another version or change the decision.
    again = registry.register_and_promote(good_run["run_id"], good_run["model_uri"], features_path)
    assert (again["version"], again["promoted"], champion_version(client)) == ("2", True, "2")

    worse_run, worse_metrics, third = train_evaluate_register(features_path, WEAK)
    assert third["version"] == "3" and third["promoted"] is False
    assert champion_version(client) == "2"  # the worse model did NOT take the alias
    v3_tags = client.get_model_version(settings.REGISTERED_MODEL_NAME, "3").tags
    assert v3_tags[registry.DECISION_TAG] == "kept_current_champion"
    assert "<= champion" in v3_tags[registry.REASON_TAG]
    assert client.get_run(worse_run["run_id"]).data.tags[registry.DECISION_TAG] == "kept_current_champion"
    assert client.get_run(good_run["run_id"]).data.tags["registered_model_version"] == "2"

    # Batch scoring follows the alias (v2), not the latest version (v3).
    result = scoring.batch_score(features_path, tmp_path / "scores")
    assert result["model_version"] == "2"
    scores = pd.read_csv(result["path"])
    assert set(scores["model_version"].astype(str)) == {"2"}
    assert len(scores) == result["rows"] > 6000
    assert scores["is_predicted_anomaly"].sum() == result["flagged"] > 0
    assert (
        scores.loc[scores["is_predicted_anomaly"] == 1, "anomaly_score"].min()
        > scores.loc[scores["is_predicted_anomaly"] == 0, "anomaly_score"].max() - 1e-9
    )
    for name in PLOT_FILES:
        assert (tmp_path / "scores" / name).read_bytes()[:8] == PNG_MAGIC
    assert "anomaly-detector v2" in (tmp_path / "scores" / scoring.SUMMARY_FILE).read_text()


@pytest.mark.parametrize(
    ("challenger", "champion", "promote"),
    [(0.5, None, True), (0.51, 0.5, True), (0.5, 0.5, False), (0.4, 0.5, False)],
)
def test_promotion_rule_is_strictly_better(challenger, champion, promote):
    decision = registry.decide_promotion(challenger, champion)
    assert decision.promote is promote
    assert "holdout_average_precision" in decision.reason


@pytest.mark.parametrize(
    ("challenger", "champion", "exists", "promote"),
    [(None, None, False, True), (None, 0.5, True, False), (0.9, None, True, False)],
)
def test_promotion_without_comparable_numbers_keeps_an_existing_champion(challenger, champion, exists, promote):
    assert registry.decide_promotion(challenger, champion, champion_exists=exists).promote is promote


def test_pipeline_refuses_to_run_without_tracking_uri(monkeypatch, features_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(RuntimeError, match="MLFLOW_TRACKING_URI is not set"):
        training.train_model(features_path)


def test_experiment_is_tagged_as_model_training(tmp_path, monkeypatch):
    """MLflow 3's UI opens untagged experiments as GenAI; ours must open on its training runs."""
    import mlflow

    from mlpipelines import settings, training

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment_id = training._use_experiment()
    assert training._use_experiment() == experiment_id
    tags = mlflow.MlflowClient().get_experiment(experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    assert mlflow.MlflowClient().get_experiment(experiment_id).name == settings.EXPERIMENT_NAME
