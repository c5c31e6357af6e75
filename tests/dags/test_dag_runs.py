"""dag.test() runs against the temp Airflow DB and a local SQLite MLflow."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.dags.conftest import DAGS_DIR
from mlpipelines import settings
from mlpipelines.plots import PLOT_FILES


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS_DIR)


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def asset_event_count(uri: str) -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
        )


def test_training_dag_end_to_end_on_a_fresh_platform(dagbag, local_mlflow):
    data_dir = local_mlflow["data_dir"]
    assert not settings.training_dataset_path(data_dir).exists()  # ingest never ran

    dag_run = dagbag.dags["train_anomaly_model"].test()

    assert dag_run.state == "success", task_states(dag_run)
    assert set(task_states(dag_run).values()) == {"success"}
    assert settings.training_dataset_path(data_dir).exists()  # built from the bundled generator

    client = local_mlflow["client"]
    experiment = client.get_experiment_by_name(settings.EXPERIMENT_NAME)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert 0.3 < run.data.metrics["holdout_average_precision"] < 0.95
    assert run.data.tags["champion_decision"] == "promoted"
    assert {a.path for a in client.list_artifacts(run.info.run_id, "plots")} == {f"plots/{p}" for p in PLOT_FILES}
    champion = client.get_model_version_by_alias(settings.REGISTERED_MODEL_NAME, settings.CHAMPION_ALIAS)
    assert str(champion.version) == "1" and champion.run_id == run.info.run_id

    scores = pd.read_csv(settings.scores_dir(data_dir) / "anomaly_scores.csv")
    assert len(scores) > 6000 and set(scores["model_version"].astype(str)) == {"1"}
    assert 0 < scores["is_predicted_anomaly"].mean() < 0.1


def test_training_dag_fails_on_bad_data_before_touching_mlflow(dagbag, local_mlflow):
    from mlpipelines.datasets import ensure_training_dataset

    path = ensure_training_dataset(local_mlflow["data_dir"])["path"]
    frame = pd.read_csv(path)
    frame.loc[:9, "occupancy_pct"] = None
    frame.to_csv(path, index=False)

    dag_run = dagbag.dags["train_anomaly_model"].test()

    states = task_states(dag_run)
    assert dag_run.state == "failed"
    assert states["load_dataset"] == "success" and states["validate_dataset"] == "failed"
    assert states["train_model"] == "upstream_failed" and states["batch_score"] == "upstream_failed"
    experiment = local_mlflow["client"].get_experiment_by_name(settings.EXPERIMENT_NAME)
    assert local_mlflow["client"].search_runs([experiment.experiment_id]) == []


def test_without_a_warehouse_ingest_then_transform_work_on_the_data_dir_and_emit_the_assets(
    dagbag, local_mlflow, monkeypatch
):
    monkeypatch.setenv("MLPLATFORM_AIRBYTE_ENABLED", "false")
    monkeypatch.delenv("MLPLATFORM_INGEST_SOURCES_FILE", raising=False)
    monkeypatch.delenv("MLPLATFORM_WAREHOUSE_FILE", raising=False)
    raw_before = asset_event_count(settings.RAW_ASSET_URI)
    training_before = asset_event_count(settings.TRAINING_ASSET_URI)

    ingest = dagbag.dags["ingest_data"].test()
    assert ingest.state == "success", task_states(ingest)
    assert task_states(ingest) == {
        "choose_source": "success",
        "airbyte_sync": "skipped",
        "seed_landing_file": "skipped",
        "run_connectors": "skipped",
        "land_bundled_data": "success",
        "publish_raw_data": "success",
    }
    assert settings.raw_dataset_path(local_mlflow["data_dir"]).exists()
    assert asset_event_count(settings.RAW_ASSET_URI) == raw_before + 1

    transform = dagbag.dags["transform_data"].test()
    assert transform.state == "success", task_states(transform)
    assert settings.training_dataset_path(local_mlflow["data_dir"]).exists()
    assert asset_event_count(settings.TRAINING_ASSET_URI) == training_before + 1


def test_ingest_fails_when_airbyte_is_enabled_without_a_connection(dagbag, local_mlflow, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_AIRBYTE_ENABLED", "true")
    monkeypatch.setenv("MLPLATFORM_AIRBYTE_CONNECTION_ID", "")
    raw_before = asset_event_count(settings.RAW_ASSET_URI)

    ingest = dagbag.dags["ingest_data"].test()

    states = task_states(ingest)
    assert ingest.state == "failed"
    assert states["choose_source"] == "failed"
    assert states["airbyte_sync"] == "upstream_failed" and states["land_bundled_data"] == "upstream_failed"
    assert asset_event_count(settings.RAW_ASSET_URI) == raw_before  # no Asset event, so no downstream run


def test_smoke_dag_round_trip_against_local_mlflow(dagbag, local_mlflow):
    client = local_mlflow["client"]
    client.create_experiment(settings.SMOKE_EXPERIMENT_NAME, artifact_location=str(local_mlflow["tmp"] / "smoke"))

    dag_run = dagbag.dags["mlflow_smoke"].test()

    assert dag_run.state == "success", task_states(dag_run)
    (run,) = client.search_runs([client.get_experiment_by_name(settings.SMOKE_EXPERIMENT_NAME).experiment_id])
    assert run.info.status == "FINISHED" and run.data.metrics["smoke_ok"] == 1.0
