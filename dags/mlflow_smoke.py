"""Post-deploy check from inside Airflow: MLflow run, metric, artifact round trip.

Trigger by hand after a deploy. On failure the error names the setting most
likely wrong (allowed hosts, artifact proxy, auth credentials, tracking URI).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from mlpipelines.dag_defaults import PLATFORM_DAG_ARGS


@dag(
    dag_id="mlflow_smoke",
    schedule=None,
    **PLATFORM_DAG_ARGS,
    tags=["mlplatform", "smoke"],
    doc_md=__doc__,
)
def mlflow_smoke():
    # Retries are for a server still starting; a wrong setting fails all tries
    # with the same diagnosis, so keep the total wait short.
    @task(retries=2, retry_delay=5, retry_exponential_backoff=2.0)
    def mlflow_round_trip() -> dict:
        from mlpipelines.smoke import run_smoke_check

        return run_smoke_check()

    mlflow_round_trip()


mlflow_smoke()
