"""Task defaults shared by the DAG files; import-light (no Airflow, no heavy libraries)."""

from __future__ import annotations

from datetime import timedelta

import pendulum

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

# For tasks that call MLflow or Airbyte: a service restarting during a deploy
# should cost a retry, not a failed run. Delays 10 s, 20 s, 40 s (capped at 5 min).
SERVICE_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=5),
}

# Pure data steps fail for a reason a retry cannot fix (bad data, a bug).
LOCAL_RETRIES = {"retries": 0}

OWNER_ARGS = {"owner": "mlplatform"}

#: What every platform DAG shares: no backfill, and not paused at creation, so a
#: fresh deploy runs the ingest -> transform -> train chain without anyone clicking.
PLATFORM_DAG_ARGS = {
    "start_date": START_DATE,
    "catchup": False,
    "is_paused_upon_creation": False,
    "default_args": OWNER_ARGS,
}
