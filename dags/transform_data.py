"""Transform: validate the landed raw data and write the training data set.

Scheduled on the raw-data Asset from ingest_data; emits the training Asset that
schedules train_anomaly_model. Falls back to the bundled generator (and logs
it) when no raw file was landed, e.g. when the Airbyte sync wrote elsewhere.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from mlpipelines.assets import RAW_TRAFFIC_DATA, TRAINING_TRAFFIC_DATA
from mlpipelines.dag_defaults import LOCAL_RETRIES, PLATFORM_DAG_ARGS


@dag(
    dag_id="transform_data",
    schedule=[RAW_TRAFFIC_DATA],
    max_active_runs=1,
    **PLATFORM_DAG_ARGS,
    tags=["mlplatform", "data"],
    doc_md=__doc__,
)
def transform_data():
    @task(outlets=[TRAINING_TRAFFIC_DATA], **LOCAL_RETRIES)
    def build_training_dataset() -> dict:
        from mlpipelines.datasets import build_training_dataset as build

        return build()

    build_training_dataset()


transform_data()
