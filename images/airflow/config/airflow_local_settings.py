"""Airflow imports this module at start in every process (it is on $AIRFLOW_HOME/config).

In the processes that fork task runners (MLPLATFORM_PRELOAD_MODULES is set only there: the LocalExecutor
scheduler, Celery workers), it imports the libraries the tasks use, before the forks: each task inherits
them instead of spending seconds importing them (components/airflow_cluster.py, TASK_PRELOAD).
"""

from __future__ import annotations

import importlib
import os

__all__: list[str] = []  # no cluster policies: Airflow registers none from this module

for _module in filter(None, os.environ.get("MLPLATFORM_PRELOAD_MODULES", "").split(",")):
    importlib.import_module(_module.strip())
