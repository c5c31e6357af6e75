"""Ingest traffic data: an Airbyte sync when Airbyte is enabled, else the bundled data set.

Either way the last task emits the raw-data Asset, which schedules transform_data.
Airbyte settings come from the environment at run time (MLPLATFORM_AIRBYTE_ENABLED,
MLPLATFORM_AIRBYTE_CONNECTION_ID); the sync target is expected to land its
output as raw/traffic_hourly.csv under MLPLATFORM_DATA_DIR.
"""

from __future__ import annotations

from airflow.providers.airbyte.operators.airbyte import AirbyteTriggerSyncOperator
from airflow.sdk import dag, get_current_context, task

from mlpipelines.assets import RAW_TRAFFIC_DATA
from mlpipelines.dag_defaults import PLATFORM_DAG_ARGS, SERVICE_RETRIES

AIRBYTE_TASK_ID = "airbyte_sync"
BUNDLED_TASK_ID = "land_bundled_data"


@dag(
    dag_id="ingest_data",
    schedule="@daily",
    max_active_runs=1,
    **PLATFORM_DAG_ARGS,
    tags=["mlplatform", "data"],
    doc_md=__doc__,
)
def ingest_data():
    @task.branch
    def choose_source() -> str:
        """Fails (instead of skipping the sync) when Airbyte is on but no connection is configured."""
        from mlpipelines.settings import airbyte_settings

        airbyte = airbyte_settings()
        if not airbyte.enabled:
            return BUNDLED_TASK_ID
        get_current_context()["ti"].xcom_push(key="airbyte_connection_id", value=airbyte.require_connection_id())
        return AIRBYTE_TASK_ID

    airbyte_sync = AirbyteTriggerSyncOperator(
        task_id=AIRBYTE_TASK_ID,
        airbyte_conn_id="airbyte_default",
        connection_id="{{ ti.xcom_pull(task_ids='choose_source', key='airbyte_connection_id') }}",
        asynchronous=False,
        wait_seconds=10,
        timeout=3600,
        **SERVICE_RETRIES,
    )

    @task(task_id=BUNDLED_TASK_ID)
    def land_bundled_data() -> str:
        from mlpipelines.datasets import land_bundled_raw_data

        return str(land_bundled_raw_data())

    @task(outlets=[RAW_TRAFFIC_DATA], trigger_rule="none_failed_min_one_success")
    def publish_raw_data() -> None:
        """Runs after whichever source ran; its success is what emits the Asset event."""

    choose_source() >> [airbyte_sync, land_bundled_data()] >> publish_raw_data()


ingest_data()
