"""How many task processes the cluster keeps, and what they start with."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from components.airflow_cluster import LOCAL_PARALLELISM, TASK_PRELOAD
from testing.program import REPO_ROOT, shipped, shipped_with

LOCAL_SETTINGS = REPO_ROOT / "images" / "airflow" / "config" / "airflow_local_settings.py"


def test_local_executor_keeps_a_few_worker_processes_not_airflows_32():
    scheduler = shipped("dev").container("airflow-scheduler").env()
    assert scheduler["AIRFLOW__CORE__PARALLELISM"] == str(LOCAL_PARALLELISM) == "4"


@pytest.mark.parametrize("stack, airflow, expected", [
    ("dev", {"parallelism": 12}, "12"),
    ("prod", {"parallelism": 64}, "64"),
    ("prod", {}, None),
])
def test_parallelism_follows_config_and_celery_keeps_airflows_default(stack, airflow, expected):
    for name, container in shipped_with(stack, airflow=airflow).containers().items():
        if name.startswith("airflow-") and name != "airflow-redis":
            assert container.env().get("AIRFLOW__CORE__PARALLELISM") == expected, name


@pytest.mark.parametrize("stack, preloading", [
    ("dev", {"airflow-scheduler"}),
    ("prod", {"airflow-worker-1", "airflow-worker-2", "airflow-worker-3"}),
])
def test_only_the_processes_that_fork_tasks_preload_the_task_libraries(stack, preloading):
    containers = shipped(stack).containers()
    airflow = {name for name in containers if name.startswith("airflow-") and name != "airflow-redis"}
    assert {name for name in airflow if "MLPLATFORM_PRELOAD_MODULES" in containers[name].env()} == preloading


def test_the_local_settings_import_exactly_the_named_modules(monkeypatch):
    monkeypatch.setenv("MLPLATFORM_PRELOAD_MODULES", "json, colorsys")
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    spec = importlib.util.spec_from_file_location("airflow_local_settings", LOCAL_SETTINGS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "colorsys" in sys.modules
    assert module.__all__ == []  # no cluster policy hooks


def test_every_preloaded_module_is_a_library_the_airflow_image_installs():
    """Third-party only: a DAG folder's own module preloaded would go stale in mounted mode."""
    requirements = (REPO_ROOT / "images" / "airflow" / "requirements.txt").read_text()
    distribution = {"sklearn": "scikit-learn", "mlflow": "mlflow-skinny"}
    for module in TASK_PRELOAD["MLPLATFORM_PRELOAD_MODULES"].split(","):
        top = module.split(".")[0]
        assert f"\n{distribution.get(top, top)}\n" in f"\n{requirements}\n", module
