"""Ingest traffic data: the declared Airbyte connectors into the warehouse, or an Airbyte platform sync.

- With the platform's warehouse (always, on a deployed stack): the bundled data set
  is seeded into the landing folder (a file already there is kept), then PyAirbyte
  runs every source of the stack's ``ingestion`` config from its baked virtualenv,
  each into its own warehouse schema.
- With ``airbyte.enabled``: the Airbyte platform's connection is synced instead.
- Without either (a bare Airflow, a DAG test): the bundled data set is written to the data dir.

Either way the last task emits the raw-data Asset, which schedules transform_data.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.providers.airbyte.operators.airbyte import AirbyteTriggerSyncOperator
from airflow.sdk import dag, get_current_context, task

from mlpipelines.assets import RAW_TRAFFIC_DATA
from mlpipelines.dag_defaults import LOCAL_RETRIES, PLATFORM_DAG_ARGS, SERVICE_RETRIES

AIRBYTE_TASK_ID = "airbyte_sync"
SEED_TASK_ID = "seed_landing_file"
BUNDLED_TASK_ID = "land_bundled_data"
#: The folder that holds mlpipelines, for the connector task's interpreter (it has no Airflow DAG folder).
DAGS_DIR = str(Path(__file__).resolve().parent)
#: PyAirbyte's virtualenv in the platform's Airflow image.
PYAIRBYTE_PYTHON = os.environ.get("MLPLATFORM_PYAIRBYTE_PYTHON") or "/opt/mlplatform/venvs/pyairbyte/bin/python"


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
        from mlpipelines.settings import airbyte_settings, ingest_sources_file

        airbyte = airbyte_settings()
        if airbyte.enabled:
            get_current_context()["ti"].xcom_push(key="airbyte_connection_id", value=airbyte.require_connection_id())
            return AIRBYTE_TASK_ID
        return SEED_TASK_ID if ingest_sources_file() else BUNDLED_TASK_ID

    airbyte_sync = AirbyteTriggerSyncOperator(
        task_id=AIRBYTE_TASK_ID,
        airbyte_conn_id="airbyte_default",
        connection_id="{{ ti.xcom_pull(task_ids='choose_source', key='airbyte_connection_id') }}",
        asynchronous=False,
        wait_seconds=10,
        timeout=3600,
        **SERVICE_RETRIES,
    )

    @task(task_id=SEED_TASK_ID, **LOCAL_RETRIES)
    def seed_landing_file() -> dict:
        from mlpipelines.datasets import seed_landing_file as seed

        return seed()

    @task.external_python(python=PYAIRBYTE_PYTHON, expect_airflow=False, **SERVICE_RETRIES)
    def run_connectors(dags_dir: str) -> list:
        """PyAirbyte, in its own interpreter: every declared source into the warehouse."""
        import sys

        sys.path.insert(0, dags_dir)
        from mlpipelines.connectors import run_declared_sources

        return run_declared_sources()

    @task(task_id=BUNDLED_TASK_ID)
    def land_bundled_data() -> str:
        from mlpipelines.datasets import land_bundled_raw_data

        return str(land_bundled_raw_data())

    @task(outlets=[RAW_TRAFFIC_DATA], trigger_rule="none_failed_min_one_success")
    def publish_raw_data() -> None:
        """Runs after whichever source ran; its success is what emits the Asset event."""

    branch = choose_source()
    seeded = seed_landing_file()
    ingested = run_connectors(DAGS_DIR)
    bundled = land_bundled_data()
    branch >> [airbyte_sync, seeded, bundled]
    seeded >> ingested
    [airbyte_sync, ingested, bundled] >> publish_raw_data()

ingest_data()
