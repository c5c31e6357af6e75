"""PgBouncer as declared: transaction pooling, SCRAM logins from a secret auth file, a health check through it."""

from __future__ import annotations

from testing.mocks import Recorded
from testing.program import shipped

AUTH_FILE = "/run/secrets/pgbouncer-userlist"


def _pooler() -> Recorded:
    return shipped("prod").container("pgbouncer")


def _ini() -> str:
    return _pooler().upload_content("/etc/pgbouncer/pgbouncer.ini")


def test_the_pooler_is_on_in_staging_and_prod_and_off_in_dev():
    assert "pgbouncer" in shipped("staging").containers() and "pgbouncer" in shipped("prod").containers()
    assert "pgbouncer" not in shipped("dev").containers()


def test_pools_per_transaction_as_airflows_chart_does():
    assert "pool_mode = transaction" in _ini()
    assert "ignore_startup_parameters = extra_float_digits" in _ini()


def test_pools_the_airflow_database_on_the_platforms_postgresql():
    assert "airflow = host=postgres port=5432 dbname=airflow" in _ini()


def test_logins_are_checked_with_scram_against_a_secret_auth_file():
    ini = _ini()
    assert "auth_type = scram-sha-256" in ini and f"auth_file = {AUTH_FILE}" in ini
    password = shipped("prod").container("postgres").upload_content("/run/secrets/db-airflow-password")
    assert _pooler().upload_content(AUTH_FILE) == f'"airflow" "{password}"\n'
    upload = _pooler().uploads()[AUTH_FILE]
    assert (upload["owner"], upload["permissions"]) == ("10010", "0400") and _pooler().upload_is_secret(AUTH_FILE)


def test_the_config_holds_no_password():
    for secret in shipped("prod").mocks.generated_secrets:
        assert secret not in _ini()


def test_the_health_check_logs_in_through_the_pooler_with_a_passfile():
    check = _pooler().inputs["healthcheck"]["tests"][1]
    assert "port=6432" in check and "passfile=/run/secrets/pgbouncer-pgpass" in check and "SELECT 1" in check
    passfile = _pooler().upload_content("/run/secrets/pgbouncer-pgpass")
    assert passfile.startswith("127.0.0.1:6432:airflow:airflow:")


def test_the_pooler_starts_after_postgresql():
    run = shipped("prod")
    assert run.container("postgres").urn in run.container("pgbouncer").dependencies
