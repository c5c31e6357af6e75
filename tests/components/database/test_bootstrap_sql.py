"""The Database bootstrap SQL, run for real against PostgreSQL."""

from __future__ import annotations

import secrets

import pytest

from components.database import Consumer, ReadOnlyAccess, bootstrap_sql
from testing.postgres import PostgresServer, run_bootstrap

CONSUMERS = [Consumer("airflow", ("airflow",)), Consumer("mlflow", ("mlflow",))]
READER = ReadOnlyAccess("mlflow_reader", "mlflow", "mlflow")


def _passwords() -> dict[str, str]:
    return {role: secrets.token_urlsafe(16) for role in ("airflow", "mlflow", "mlflow_reader")}


def _bootstrap(server: PostgresServer, tmp_path, passwords: dict[str, str], check: bool = True):
    return run_bootstrap(server, tmp_path, lambda d: bootstrap_sql(CONSUMERS, READER, d), passwords, check=check)


def _login(server: PostgresServer, role: str, database: str, password: str, sql: str = "SELECT current_user"):
    return server.psql("-tAc", sql, user=role, password=password, database=database, check=False)


def test_each_service_logs_in_to_its_own_database(postgres_server, tmp_path):
    env = _passwords()
    _bootstrap(postgres_server, tmp_path, env)
    for role in ("airflow", "mlflow"):
        result = _login(postgres_server, role, role, env[role])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == role


def test_service_cannot_reach_another_services_database(postgres_server, tmp_path):
    env = _passwords()
    _bootstrap(postgres_server, tmp_path, env)
    result = _login(postgres_server, "airflow", "mlflow", env["airflow"])
    assert result.returncode != 0
    assert "permission denied" in result.stderr


def test_rerun_is_idempotent_and_applies_new_passwords(postgres_server, tmp_path):
    first = _passwords()
    _bootstrap(postgres_server, tmp_path, first)
    second = _passwords()
    _bootstrap(postgres_server, tmp_path, second)  # same volume, new config: must not fail
    assert _login(postgres_server, "mlflow", "mlflow", second["mlflow"]).returncode == 0
    stale = _login(postgres_server, "mlflow", "mlflow", first["mlflow"])
    assert stale.returncode != 0 and "password authentication failed" in stale.stderr


def test_reader_sees_tables_the_owner_creates_later_but_cannot_write(postgres_server, tmp_path):
    env = _passwords()
    _bootstrap(postgres_server, tmp_path, env)
    owner_pw, reader_pw = env["mlflow"], env["mlflow_reader"]
    created = _login(postgres_server, "mlflow", "mlflow", owner_pw,
                     "CREATE TABLE experiments (id int); INSERT INTO experiments VALUES (1)")
    assert created.returncode == 0, created.stderr
    read = _login(postgres_server, "mlflow_reader", "mlflow", reader_pw, "SELECT count(*) FROM experiments")
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "1"
    write = _login(postgres_server, "mlflow_reader", "mlflow", reader_pw, "INSERT INTO experiments VALUES (2)")
    assert write.returncode != 0
    assert "read-only transaction" in write.stderr or "permission denied" in write.stderr
    escalate = _login(postgres_server, "mlflow_reader", "mlflow", reader_pw,
                      "SET default_transaction_read_only = off; BEGIN READ WRITE; INSERT INTO experiments VALUES (3)")
    assert escalate.returncode != 0 and "permission denied" in escalate.stderr


def test_rerun_over_existing_tables_keeps_data_ownership_and_the_readers_access(postgres_server, tmp_path):
    """Every PostgreSQL restart re-runs the bootstrap over tables the services created."""
    env = _passwords()
    _bootstrap(postgres_server, tmp_path, env)
    created = _login(postgres_server, "mlflow", "mlflow", env["mlflow"],
                     "CREATE TABLE runs (id int); INSERT INTO runs VALUES (1), (2)")
    assert created.returncode == 0, created.stderr
    _bootstrap(postgres_server, tmp_path, env)
    owner = _login(postgres_server, "mlflow", "mlflow", env["mlflow"],
                   "SELECT tableowner FROM pg_tables WHERE tablename = 'runs'")
    assert owner.stdout.strip() == "mlflow"
    read = _login(postgres_server, "mlflow_reader", "mlflow", env["mlflow_reader"], "SELECT count(*) FROM runs")
    assert read.returncode == 0 and read.stdout.strip() == "2", read.stderr
    write = _login(postgres_server, "mlflow_reader", "mlflow", env["mlflow_reader"], "DELETE FROM runs")
    assert write.returncode != 0
    also_owner = _login(postgres_server, "mlflow", "mlflow", env["mlflow"], "INSERT INTO runs VALUES (3)")
    assert also_owner.returncode == 0, also_owner.stderr


def test_roles_are_never_superusers_or_able_to_create_roles(postgres_server, tmp_path):
    env = _passwords()
    _bootstrap(postgres_server, tmp_path, env)
    flags = postgres_server.psql(
        "-tAc", "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                "WHERE rolname IN ('airflow', 'mlflow', 'mlflow_reader') ORDER BY rolname")
    assert flags.stdout.split() == ["airflow|f|f|f", "mlflow|f|f|f", "mlflow_reader|f|f|f"]


def test_no_one_but_the_owner_may_create_in_a_service_schema(postgres_server, tmp_path):
    env = _passwords()
    _bootstrap(postgres_server, tmp_path, env)
    sneaky = _login(postgres_server, "mlflow_reader", "mlflow", env["mlflow_reader"],
                    "BEGIN READ WRITE; CREATE TABLE evil (id int)")
    assert sneaky.returncode != 0 and "permission denied" in sneaky.stderr


def test_missing_password_file_fails_the_script(postgres_server, tmp_path):
    env = _passwords()
    del env["mlflow"]
    result = _bootstrap(postgres_server, tmp_path, env, check=False)
    assert result.returncode != 0
    assert "db-mlflow-password is missing or empty" in result.stderr


def test_script_holds_no_password_and_reads_the_secret_files():
    sql = bootstrap_sql(CONSUMERS, READER)
    assert "\\set pw_airflow `cat /run/secrets/db-airflow-password`" in sql
    assert "getenv" not in sql


def test_rejects_unsafe_identifiers():
    with pytest.raises(ValueError, match="identifier"):
        bootstrap_sql([Consumer('x"; DROP', ("db",))], READER)
