"""MLflow's Host-header check lets other containers and the browser through, and nothing else."""

from __future__ import annotations

from components.mlflow_server import allowed_hosts
from testing.program import shipped


def test_allowed_hosts_cover_other_containers_and_the_browser():
    hosts = shipped("dev").container("mlflow").env()["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    for expected in ("mlflow", "mlflow:5000", "127.0.0.1:5000", "localhost:5000"):
        assert expected in hosts


def test_allowed_hosts_include_a_non_loopback_bind_address_and_extra_names():
    hosts = allowed_hosts("mlflow", "10.1.2.3", 5001, ("mlflow.example.internal",))
    assert {"10.1.2.3:5001", "mlflow.example.internal", "mlflow.example.internal:5001"} <= set(hosts)


def test_allowed_hosts_hold_no_wildcard():
    hosts = shipped("prod").container("mlflow").env()["MLFLOW_SERVER_ALLOWED_HOSTS"]
    assert "*" not in hosts


def test_cors_allows_only_the_browser_origins():
    origins = shipped("dev").container("mlflow").env()["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"].split(",")
    assert origins == ["http://localhost:5000", "http://127.0.0.1:5000"]
