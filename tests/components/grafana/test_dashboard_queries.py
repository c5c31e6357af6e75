"""Every dashboard query, run against the schema a real MLflow server creates.

A real PostgreSQL gets the platform's bootstrap SQL (roles, databases, the
read-only ``mlflow_reader``), a real ``mlflow server`` migrates its schema into
it as role ``mlflow``, and the MLflow client logs runs, metrics, params, a
failed run and a registered model with two versions and an alias. Each panel
and template-variable query from ``grafana/dashboards/*.json`` is then expanded
the way Grafana would (template variables in the browser, then the PostgreSQL
data source's macros) and executed as ``mlflow_reader``.

Needs (CI): Debian ``postgresql`` (server binaries), and in the Python
environment running pytest: ``pip install -c constraints.txt mlflow
psycopg2-binary pulumi pulumi-docker pulumi-random pydantic PyYAML pytest``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, UTC
from pathlib import Path
from collections.abc import Iterator

import pytest

from components.database import Consumer, bootstrap_sql
from components.grafana import DATASOURCE_UID
from components.platform import MLFLOW_READER
from testing.net import free_port
from testing.grafana_sql import (
    TimeRange,
    VariableValue,
    dashboards,
    expand_macros,
    grafana_sql,
    panels,
    substitute_variables,
)
from testing.postgres import PostgresServer, run_bootstrap, start_postgres

INSTALL_HINT = (
    "install the real-schema test's dependencies: `apt-get install postgresql` and "
    "`pip install -c constraints.txt mlflow psycopg2-binary pulumi pulumi-docker pulumi-random pydantic PyYAML pytest`"
)
CONSUMERS = [Consumer("airflow", ("airflow",)), Consumer("mlflow", ("mlflow",))]
EXPERIMENT = "grafana-dashboards"
MODEL = "grafana-dashboards-model"
STEPS = 5

def test_time_filter_expands_to_rfc3339_between():
    window = TimeRange(datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
                       datetime(2026, 5, 1, 11, 30, 0, 500000, tzinfo=UTC))
    assert expand_macros("WHERE $__timeFilter( point_time )", window) == (
        "WHERE point_time BETWEEN '2026-05-01T10:00:00Z' AND '2026-05-01T11:30:00.5Z'"
    )


def test_time_from_and_to_are_quoted_utc_timestamps():
    window = TimeRange(datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
                       datetime(2026, 5, 1, 11, 0, tzinfo=UTC))
    assert expand_macros("$__timeFrom() .. $__timeTo()", window) == "'2026-05-01T10:00:00Z' .. '2026-05-01T11:00:00Z'"


def test_unix_epoch_from_and_to_are_whole_seconds():
    window = TimeRange(datetime(2026, 5, 1, 0, 0, 0, 900000, tzinfo=UTC),
                       datetime(2026, 5, 1, 0, 1, tzinfo=UTC))
    assert expand_macros("$__unixEpochFrom() AND $__unixEpochTo()", window) == "1777593600 AND 1777593660"


def test_unknown_macro_is_refused():
    window = TimeRange(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="__timeGroup"):
        expand_macros("SELECT $__timeGroup(t, '5m')", window)


def test_multi_value_variables_become_quoted_literals():
    sql = substitute_variables("k IN ($metric)", {"metric": ["loss", "it's"]}, {"metric": True})
    assert sql == "k IN ('loss','it''s')"


def test_single_value_variable_is_inserted_unquoted_with_quotes_escaped():
    sql = substitute_variables("id IN ($experiment) AND n = '${name}'", {"experiment": "3", "name": "a'b"}, {})
    assert sql == "id IN (3) AND n = 'a''b'"


def test_macros_are_not_mistaken_for_variables():
    sql = substitute_variables("$__timeFilter(t) AND x IN ($x)", {"x": "1"}, {})
    assert sql == "$__timeFilter(t) AND x IN (1)"


def test_leftover_variable_fails_the_expansion():
    window = TimeRange(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"\$typo"):
        grafana_sql("x IN ($typo)", {}, {}, window)


PANELS = panels()
PANEL_IDS = [f"{name}:{panel['title']}" for name, panel in PANELS]

#: Columns each panel must return, so a dashboard edit that drops one fails here, not in the browser.
EXPECTED_COLUMNS = {
    "Metric values over time": ["time", "value", "metric"],
    "Latest metrics per run": ["run", "status", "metric", "value", "step", "logged_at"],
    "Runs by status": ["status", "runs"],
    "Failed runs": ["failed_runs"],
    "Recent runs": ["run", "experiment", "status", "started", "ended", "duration_s", "user", "run_id"],
    "Registered models": ["model", "versions", "latest_version", "aliases", "updated"],
    "Model versions": ["model", "version", "aliases", "stage", "status", "source_run", "created"],
}


def test_every_panel_queries_the_provisioned_datasource():
    for name, panel in PANELS:
        refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
        assert all(ref["uid"] == DATASOURCE_UID for ref in refs), f"{name}: {panel['title']}"


def test_every_panel_has_expected_columns_declared():
    assert {panel["title"] for _, panel in PANELS} == set(EXPECTED_COLUMNS)


# ---------------------------------------------------------------------------
# The real stack: PostgreSQL + bootstrap SQL + mlflow server + logged data.
# ---------------------------------------------------------------------------


def _require_python_packages() -> Path:
    missing = [name for name in ("mlflow", "psycopg2") if importlib.util.find_spec(name) is None]
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    if missing or not mlflow_cli.exists():
        pytest.fail(f"missing {missing or [str(mlflow_cli)]}: {INSTALL_HINT}", pytrace=False)
    return mlflow_cli


@dataclass
class Logged:
    """What the MLflow client wrote, to compare dashboard results with."""

    experiment_id: str
    runs: dict[str, str] = field(default_factory=dict)
    """Run name -> run id."""
    last_values: dict[tuple[str, str], float] = field(default_factory=dict)
    """(run name, metric key) -> last logged value."""
    finite_points: int = 0


@dataclass
class Stack:
    server: PostgresServer
    reader_password: str
    logged: Logged
    window: TimeRange

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """Run ``sql`` as the dashboards' read-only role; column names and rows."""
        import psycopg2

        conn = psycopg2.connect(host=self.server.host, port=self.server.port, dbname=MLFLOW_READER.database,
                                user=MLFLOW_READER.role, password=self.reader_password)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return [d.name for d in cur.description], cur.fetchall()
        finally:
            conn.rollback()
            conn.close()


def _start_mlflow(mlflow_cli: Path, backend_uri: str, artifacts: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    process = subprocess.Popen(
        [str(mlflow_cli), "server", "--backend-store-uri", backend_uri, "--serve-artifacts",
         "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"mlflow server not healthy after 180 s:\n{log.read_text()[-4000:]}")


def _log_runs(tracking_uri: str) -> Logged:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    logged = Logged(client.create_experiment(EXPERIMENT))
    start_ms = int(time.time() * 1000) - 60_000
    planned = [("train-a", "FINISHED"), ("train-b", "FINISHED"), ("train-broken", "FAILED")]
    for index, (run_name, status) in enumerate(planned):
        run = client.create_run(logged.experiment_id, run_name=run_name, start_time=start_ms + index)
        logged.runs[run_name] = run.info.run_id
        client.log_param(run.info.run_id, "learning_rate", str(0.1 / (index + 1)))
        for step in range(STEPS):
            loss, accuracy = 1.0 / (step + 1 + index), 0.5 + step * 0.1 - index * 0.01
            if status == "FAILED" and step == STEPS - 1:
                loss = float("nan")  # diverged: the time series leaves NaN out
            for key, value in (("loss", loss), ("accuracy", accuracy)):
                client.log_metric(run.info.run_id, key, value, timestamp=start_ms + step * 1000, step=step)
                logged.last_values[(run_name, key)] = value
                logged.finite_points += 0 if math.isnan(value) else 1
        client.set_terminated(run.info.run_id, status=status, end_time=start_ms + STEPS * 1000)
    client.create_registered_model(MODEL)
    for run_name in ("train-a", "train-b"):
        run_id = logged.runs[run_name]
        client.create_model_version(MODEL, source=f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(MODEL, "champion", "2")
    return logged


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    mlflow_cli = _require_python_packages()
    postgres = start_postgres()
    try:
        server = next(postgres)
    except (RuntimeError, KeyError) as error:
        pytest.fail(f"cannot start PostgreSQL ({error}): {INSTALL_HINT}", pytrace=False)
    try:
        tmp = tmp_path_factory.mktemp("grafana-queries")
        passwords = {role: secrets.token_urlsafe(24) for role in ("airflow", "mlflow", MLFLOW_READER.role)}
        run_bootstrap(server, tmp, lambda d: bootstrap_sql(CONSUMERS, MLFLOW_READER, d), passwords)
        backend = f"postgresql+psycopg2://mlflow:{passwords['mlflow']}@{server.host}:{server.port}/mlflow"
        process, url = _start_mlflow(mlflow_cli, backend, tmp / "artifacts", tmp / "mlflow.log")
        try:
            logged = _log_runs(url)
            now = datetime.now(UTC)
            window = TimeRange(now - timedelta(hours=1), now + timedelta(minutes=5))
            yield Stack(server, passwords[MLFLOW_READER.role], logged, window)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    finally:
        next(postgres, None)  # stops and removes the cluster


def _variable_options(stack: Stack, variable: dict, values, multi_or_all) -> list[tuple[str, str]]:
    """(text, value) options of a query variable, as Grafana builds them from __text/__value or the first column."""
    columns, rows = stack.query(grafana_sql(variable["query"], values, multi_or_all, stack.window))
    if "__value" in columns:
        text_at, value_at = columns.index("__text"), columns.index("__value")
        return [(str(row[text_at]), str(row[value_at])) for row in rows]
    return [(str(row[0]), str(row[0])) for row in rows]


def _choose(stack: Stack, dashboard: dict) -> tuple[dict[str, VariableValue], dict[str, bool]]:
    """Pick variable values like a user would: our experiment, and All for the rest."""
    values: dict[str, VariableValue] = {}
    multi_or_all: dict[str, bool] = {}
    for variable in dashboard["templating"]["list"]:
        name = variable["name"]
        multi_or_all[name] = bool(variable.get("multi") or variable.get("includeAll"))
        options = _variable_options(stack, variable, values, multi_or_all)
        assert options, f"variable {name} has no options"
        if name == "experiment":
            chosen = [value for text, value in options if text == EXPERIMENT]
            assert chosen, f"experiment {EXPERIMENT} not offered: {options}"
        else:
            chosen = [value for _, value in options] if variable.get("includeAll") else [options[0][1]]
        values[name] = chosen if variable.get("multi") else chosen[0]
    return values, multi_or_all


def _run_panel(stack: Stack, dashboard_name: str, panel: dict, window: TimeRange | None = None):
    dashboard = dashboards()[dashboard_name]
    values, multi_or_all = _choose(stack, dashboard)
    sql = grafana_sql(panel["targets"][0]["rawSql"], values, multi_or_all, window or stack.window)
    columns, rows = stack.query(sql)
    return (
        dict(zip(columns, zip(*rows, strict=False), strict=False)) if rows else {c: () for c in columns},
        columns,
        rows,
    )


def _panel(title: str) -> tuple[str, dict]:
    return next((name, panel) for name, panel in PANELS if panel["title"] == title)


@pytest.mark.parametrize("dashboard_name,panel", PANELS, ids=PANEL_IDS)
def test_panel_query_returns_rows_with_its_columns_as_reader(stack, dashboard_name, panel):
    _, columns, rows = _run_panel(stack, dashboard_name, panel)
    assert rows, f"no rows for {panel['title']}"
    assert columns == EXPECTED_COLUMNS[panel["title"]]


@pytest.mark.parametrize(
    "dashboard_name,panel",
    [p for p in PANELS if p[1]["targets"][0]["format"] == "time_series"],
    ids=[i for i, p in zip(PANEL_IDS, PANELS, strict=False) if p[1]["targets"][0]["format"] == "time_series"],
)
def test_time_series_panels_return_sorted_times_and_numbers(stack, dashboard_name, panel):
    by_column, _, _ = _run_panel(stack, dashboard_name, panel)
    times = by_column["time"]
    assert all(isinstance(t, datetime) for t in times) and list(times) == sorted(times)
    assert all(isinstance(v, float) for v in by_column["value"])


def test_metric_series_cover_every_run_and_key_without_nan(stack):
    by_column, _, rows = _run_panel(stack, *_panel("Metric values over time"))
    expected_series = {f"{run} / {key}" for run in stack.logged.runs for key in ("loss", "accuracy")}
    assert set(by_column["metric"]) == expected_series
    assert len(rows) == stack.logged.finite_points
    assert not any(math.isnan(v) for v in by_column["value"])


def test_metric_time_filter_excludes_points_outside_the_range(stack):
    past = TimeRange(stack.window.start - timedelta(days=2), stack.window.start - timedelta(days=1))
    _, _, rows = _run_panel(stack, *_panel("Metric values over time"), window=past)
    assert rows == []


def test_latest_metrics_match_the_last_logged_values(stack):
    _, columns, rows = _run_panel(stack, *_panel("Latest metrics per run"))
    got = {(row[columns.index("run")], row[columns.index("metric")]): row[columns.index("value")] for row in rows}
    assert set(got) == set(stack.logged.last_values)
    for key, value in stack.logged.last_values.items():
        assert (math.isnan(got[key]) and math.isnan(value)) or got[key] == pytest.approx(value), key


def test_runs_by_status_counts_finished_and_failed(stack):
    _, _, rows = _run_panel(stack, *_panel("Runs by status"))
    assert dict(rows) == {"FINISHED": 2, "FAILED": 1}


def test_failed_runs_stat_counts_the_failed_run(stack):
    _, _, rows = _run_panel(stack, *_panel("Failed runs"))
    assert rows == [(1,)]


def test_recent_runs_lists_each_run_newest_first_with_duration(stack):
    by_column, _, _ = _run_panel(stack, *_panel("Recent runs"))
    assert list(by_column["run"]) == ["train-broken", "train-b", "train-a"]
    assert all(float(d) > 0 for d in by_column["duration_s"])


def test_model_versions_show_the_alias_on_its_version(stack):
    _, columns, rows = _run_panel(stack, *_panel("Model versions"))
    versions = {row[columns.index("version")]: row for row in rows if row[columns.index("model")] == MODEL}
    assert set(versions) == {1, 2}
    assert versions[2][columns.index("aliases")] == "champion"
    assert versions[1][columns.index("aliases")] == ""
    assert versions[1][columns.index("source_run")] == "train-a"


def test_registered_models_summarise_versions_and_aliases(stack):
    _, columns, rows = _run_panel(stack, *_panel("Registered models"))
    row = next(r for r in rows if r[columns.index("model")] == MODEL)
    assert (row[columns.index("versions")], row[columns.index("latest_version")]) == (2, 2)
    assert row[columns.index("aliases")] == "champion → v2"


# ---------------------------------------------------------------------------
# The dashboards' role really is read-only on MLflow's tables.
# ---------------------------------------------------------------------------

WRITES = {
    "insert": "INSERT INTO experiments (name, lifecycle_stage) VALUES ('x', 'active')",
    "update": "UPDATE runs SET status = 'FAILED'",
    "delete": "DELETE FROM metrics",
    "create": "CREATE TABLE public.grafana_scratch (id int)",
}


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
def test_reader_cannot_write_in_its_default_read_only_transactions(stack, statement):
    import psycopg2

    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        stack.query(statement)


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
def test_reader_cannot_write_even_in_a_read_write_transaction(stack, statement):
    import psycopg2

    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        stack.query(f"SET TRANSACTION READ WRITE; {statement}")
