"""The ingest -> transform -> train chain a deploy starts by itself, through a real Airbyte connector.

Runs first on each shape (file order): nothing is triggered here. The deploy's
`ingest_data` run seeds the landing folder, PyAirbyte runs the baked
source-file connector into the warehouse database, `transform_data` (scheduled
on the raw-data Asset) writes the training table, and `train_anomaly_model`
(scheduled on the training Asset) trains on it.
"""

from __future__ import annotations

from datetime import datetime

from tests.e2e.conftest import Stack, wait_until

CHAIN = ("ingest_data", "transform_data", "train_anomaly_model")
CHAIN_TIMEOUT_S = 900


def _runs(stack: Stack, dag_id: str) -> list[dict]:
    return stack.airflow("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "id"}).json()["dag_runs"]


def _finished_chain(stack: Stack) -> dict[str, dict] | None:
    """The first run of each chain DAG once all three finished (None while any is missing or running)."""
    first = {}
    for dag_id in CHAIN:
        runs = _runs(stack, dag_id)
        if not runs or runs[0]["state"] not in ("success", "failed"):
            return None
        first[dag_id] = runs[0]
    return first


def _seconds(task: dict) -> float:
    return (datetime.fromisoformat(task["end_date"]) - datetime.fromisoformat(task["start_date"])).total_seconds()


def test_the_chain_ran_unattended_after_the_deploy(stack: Stack):
    chain = wait_until(lambda: _finished_chain(stack), CHAIN_TIMEOUT_S, 3, "the deploy's ingest -> train chain")
    states = {dag_id: run["state"] for dag_id, run in chain.items()}
    kinds = {dag_id: run["run_type"] for dag_id, run in chain.items()}
    stack.figures["chain_ran_unattended"] = states == dict.fromkeys(CHAIN, "success") and kinds == {
        "ingest_data": "scheduled", "transform_data": "asset_triggered", "train_anomaly_model": "asset_triggered"}
    assert states == dict.fromkeys(CHAIN, "success"), states
    assert kinds["transform_data"] == kinds["train_anomaly_model"] == "asset_triggered", kinds
    assert kinds["ingest_data"] == "scheduled", kinds  # nobody triggered it: the unpaused @daily DAG ran

    run_id = chain["ingest_data"]["dag_run_id"]
    tasks = {t["task_id"]: t for t in stack.airflow(
        "GET", f"/dags/ingest_data/dagRuns/{run_id}/taskInstances").json()["task_instances"]}
    assert tasks["run_connectors"]["state"] == "success"
    assert tasks["land_bundled_data"]["state"] == tasks["airbyte_sync"]["state"] == "skipped"
    stack.figures["ingest_task_s"] = round(_seconds(tasks["run_connectors"]), 1)
    result = stack.airflow("GET", f"/dags/ingest_data/dagRuns/{run_id}/taskInstances/run_connectors/xcomEntries/"
                                  "return_value").json()["value"]
    (source,) = result
    stack.figures["ingest_connector"] = {"name": source["connector"], "version": source["version"]}
    assert source["connector"] == "source-file" and source["records"] > 6000
    assert source["tables"] == ["landing.traffic_hourly"]


def test_the_warehouse_holds_the_connectors_rows_and_the_training_table(stack: Stack):
    with stack.reader_connection("warehouse") as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT _airbyte_raw_id) FROM landing.traffic_hourly")
        rows, airbyte_ids = cursor.fetchone()
        cursor.execute("SELECT count(*), count(DISTINCT sensor_id) FROM analytics.traffic_training")
        training_rows, sensors = cursor.fetchone()
    stack.figures["warehouse_rows"] = rows
    stack.figures["warehouse_training_rows"] = training_rows
    assert rows > 6000 and airbyte_ids == rows  # every row came through the connector (PyAirbyte's record id)
    assert training_rows == rows and sensors > 1


def test_the_mlflow_run_names_the_data_it_trained_on(stack: Stack):
    client = stack.mlflow()
    experiment = client.get_experiment_by_name("anomaly-detection")
    runs = client.search_runs([experiment.experiment_id],
                              "tags.`dataset.source` = 'warehouse:analytics.traffic_training'")
    assert runs, "no MLflow run trained on the warehouse's training table"
    run = runs[-1]  # the chain's own run, the first one
    inputs = run.inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["analytics.traffic_training"]
    assert int(run.data.tags["dataset.rows"]) == stack.figures["warehouse_training_rows"]
    stack.figures["mlflow_run_references_ingested_data"] = True
