"""Transform: validate the ingested traffic data and write the training table.

Scheduled on the raw-data Asset from ingest_data; emits the training Asset that
schedules train_anomaly_model. With the platform's warehouse it reads the
connectors' table (``ingestion.traffic_table``) and writes
``analytics.traffic_training``; without one (a DAG test) it works on the data
dir and falls back to the bundled generator, saying so in its log.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from mlpipelines.assets import RAW_TRAFFIC_DATA, TRAINING_TRAFFIC_DATA
from mlpipelines.dag_defaults import PLATFORM_DAG_ARGS, SERVICE_RETRIES


@dag(
    dag_id="transform_data",
    schedule=[RAW_TRAFFIC_DATA],
    max_active_runs=1,
    **PLATFORM_DAG_ARGS,
    tags=["mlplatform", "data"],
    doc_md=__doc__,
)
def transform_data():
    @task(outlets=[TRAINING_TRAFFIC_DATA], **SERVICE_RETRIES)  # reads and writes the warehouse
    def build_training_dataset() -> dict:
        from mlpipelines.datasets import build_training_dataset as build

        return build()

    build_training_dataset()


transform_data()
