"""Every DAG file parses; graphs, schedules, Asset wiring, retries and pause flags are as designed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.dags.conftest import DAGS_DIR

EXPECTED_DAGS = {"ingest_data", "transform_data", "train_anomaly_model", "mlflow_smoke"}
RAW_URI = "mlplatform://datasets/traffic/raw"
TRAINING_URI = "mlplatform://datasets/traffic/training"
HEAVY_MODULES = ("pandas", "numpy", "sklearn", "mlflow", "matplotlib")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS_DIR)


def test_every_dag_file_loads_without_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED_DAGS
    parsed_files = {os.path.basename(stat.file) for stat in dagbag.dagbag_stats}
    assert parsed_files == {f"{dag_id}.py" for dag_id in EXPECTED_DAGS}  # .airflowignore keeps mlpipelines out


def test_airflowignore_excludes_the_pipeline_package():
    from airflow.utils.file import list_py_file_paths

    files = list_py_file_paths(str(DAGS_DIR))
    assert files and not [f for f in files if "mlpipelines" in f]


def _graph(dag) -> dict[str, set[str]]:
    return {task_id: set(task.downstream_task_ids) for task_id, task in dag.task_dict.items()}


def _asset_uris(condition) -> set[str]:
    return {asset.uri for asset in condition.objects}


def test_ingest_branches_between_airbyte_connectors_and_bundled_data_and_emits_raw_asset(dagbag):
    from airflow.providers.airbyte.operators.airbyte import AirbyteTriggerSyncOperator

    dag = dagbag.dags["ingest_data"]
    assert dag.schedule == "@daily"
    assert dag.is_paused_upon_creation is False
    assert _graph(dag) == {
        "choose_source": {"airbyte_sync", "seed_landing_file", "land_bundled_data"},
        "airbyte_sync": {"publish_raw_data"},
        "seed_landing_file": {"run_connectors"},
        "run_connectors": {"publish_raw_data"},
        "land_bundled_data": {"publish_raw_data"},
        "publish_raw_data": set(),
    }
    publish = dag.get_task("publish_raw_data")
    assert [a.uri for a in publish.outlets] == [RAW_URI]
    assert publish.trigger_rule == "none_failed_min_one_success"  # runs after whichever branch ran

    sync = dag.get_task("airbyte_sync")
    assert isinstance(sync, AirbyteTriggerSyncOperator)
    assert sync.airbyte_conn_id == "airbyte_default"
    assert "xcom_pull(task_ids='choose_source', key='airbyte_connection_id')" in sync.connection_id
    assert sync.asynchronous is False
    assert (sync.retries, sync.retry_exponential_backoff) == (3, 2.0)


def test_connectors_run_in_pyairbytes_baked_interpreter(dagbag):
    from airflow.providers.standard.operators.python import ExternalPythonOperator

    connectors = dagbag.dags["ingest_data"].get_task("run_connectors")
    assert isinstance(connectors, ExternalPythonOperator)
    assert connectors.python == "/opt/mlplatform/venvs/pyairbyte/bin/python"
    assert connectors.retries == 3  # a database restart during a deploy costs a retry


def test_transform_is_scheduled_on_raw_asset_and_emits_training_asset(dagbag):
    dag = dagbag.dags["transform_data"]
    assert _asset_uris(dag.timetable.asset_condition) == {RAW_URI}
    assert dag.is_paused_upon_creation is False
    assert _graph(dag) == {"build_training_dataset": set()}
    assert [a.uri for a in dag.get_task("build_training_dataset").outlets] == [TRAINING_URI]


def test_training_dag_graph_schedule_and_retries(dagbag):
    dag = dagbag.dags["train_anomaly_model"]
    assert _asset_uris(dag.timetable.asset_condition) == {TRAINING_URI}
    assert dag.is_paused_upon_creation is False
    assert dag.max_active_runs == 1
    assert _graph(dag) == {
        "load_dataset": {"validate_dataset", "train_model"},
        "validate_dataset": {"prepare_features"},
        "prepare_features": {"train_model", "evaluate_model", "register_model", "batch_score"},
        "train_model": {"evaluate_model", "register_model"},
        "evaluate_model": {"register_model"},
        "register_model": {"batch_score"},
        "batch_score": set(),
    }
    # Talk to MLflow or the warehouse: a service restarting during a deploy costs a retry.
    for task_id in ("load_dataset", "train_model", "evaluate_model", "register_model", "batch_score"):
        task = dag.get_task(task_id)
        assert task.retries == 3 and task.retry_exponential_backoff == 2.0, task_id
    for task_id in ("validate_dataset", "prepare_features"):  # bad data: no point retrying
        assert dag.get_task(task_id).retries == 0, task_id


def test_smoke_dag_is_manual_and_unpaused(dagbag):
    dag = dagbag.dags["mlflow_smoke"]
    assert dag.schedule is None
    assert dag.is_paused_upon_creation is False
    task = dag.get_task("mlflow_round_trip")
    assert task.retries >= 1 and task.retry_exponential_backoff == 2.0


def test_producers_and_consumers_agree_on_assets(dagbag):
    produced = {a.uri for dag in dagbag.dags.values() for t in dag.tasks for a in t.outlets}
    consumed = {
        uri
        for dag in dagbag.dags.values()
        if getattr(dag.timetable, "asset_condition", None) is not None
        for uri in _asset_uris(dag.timetable.asset_condition)
    }
    assert consumed == {RAW_URI, TRAINING_URI} and consumed <= produced


@pytest.mark.parametrize("dag_file", sorted(f"{d}.py" for d in EXPECTED_DAGS))
def test_dag_files_keep_heavy_libraries_out_of_parse_time(dag_file):
    code = (
        "import json, runpy, sys; sys.path.insert(0, sys.argv[1]);"
        f"runpy.run_path(sys.argv[2]); print(json.dumps([m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAGS_DIR), str(DAGS_DIR / dag_file)],
        check=True, capture_output=True, text=True, env=os.environ.copy(),
    ).stdout.strip().splitlines()[-1]
    assert json.loads(out) == []


# Distributions the apache/airflow base image already ships (Airflow core's own dependencies; its metadata
# database layer is SQLAlchemy).
BASE_IMAGE_DISTRIBUTIONS = {
    "apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk", "pendulum", "sqlalchemy",
}


def _imported_modules() -> set[str]:
    import ast

    modules = set()
    for path in DAGS_DIR.rglob("*.py"):
        if path == PYAIRBYTE_MODULE:
            continue  # runs in PyAirbyte's own interpreter (test_connectors_module_needs_only_pyairbyte)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module)
    return modules


def _distributions_for(module: str) -> set[str]:
    """Distributions that can provide a module (several when e.g. mlflow and mlflow-skinny are both installed)."""
    from importlib.metadata import packages_distributions

    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in {"__future__", "mlpipelines"}:
        return set()
    if module.startswith("airflow.providers."):
        return {"apache-airflow-providers-" + module.split(".")[2].replace("_", "-")}
    if top == "airflow":
        return {"apache-airflow"}
    return {dist.lower() for dist in packages_distributions()[top]}


PYAIRBYTE_MODULE = DAGS_DIR / "mlpipelines" / "connectors.py"


def test_connectors_module_needs_only_pyairbyte():
    """What PyAirbyte's interpreter imports: the standard library and the locked airbyte package, nothing else."""
    import ast

    from config.versions import CONNECTOR_LOCKS_DIR, PYAIRBYTE_VENV, pinned_version

    tops = set()
    for node in ast.walk(ast.parse(PYAIRBYTE_MODULE.read_text())):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    assert tops - sys.stdlib_module_names - {"__future__"} == {"airbyte"}
    assert pinned_version("airbyte", CONNECTOR_LOCKS_DIR / f"{PYAIRBYTE_VENV}.txt")


def test_image_requirements_are_exactly_what_the_dags_import():
    from tests.dags.conftest import REPO_ROOT

    requirements = {
        line.strip().lower()
        for line in (REPO_ROOT / "images" / "airflow" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    needed = [d for d in map(_distributions_for, _imported_modules()) if d and not d & BASE_IMAGE_DISTRIBUTIONS]
    missing = [sorted(candidates) for candidates in needed if not candidates & requirements]
    unused = [r for r in requirements if not any(r in candidates for candidates in needed)]
    assert (missing, unused) == ([], [])
    assert not [r for r in requirements if any(c in r for c in "=<>~")]  # names only
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert requirements <= pinned


def test_plots_use_the_non_gui_agg_backend_even_if_env_asks_for_a_gui():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import mlpipelines.plots, matplotlib; "
        "print(matplotlib.get_backend())"
    )
    env = {**os.environ, "MPLBACKEND": "TkAgg"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAGS_DIR)], check=True, capture_output=True, text=True, env=env
    )
    assert out.stdout.strip().lower() == "agg"
