"""Containers that can run as an unprivileged user do."""

from __future__ import annotations

from testing.program import shipped


def test_redis_runs_as_the_redis_user():
    assert shipped("prod").container("airflow-redis").inputs["user"] == "999:999"


def test_pgbouncer_runs_as_its_own_user():
    assert shipped("prod").container("pgbouncer").inputs["user"] == "10010:10010"
