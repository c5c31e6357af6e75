"""The object store as declared: pinned Garage, secrets as root-only files, a protected volume, a health check."""

from __future__ import annotations

import tomllib

from testing.program import shipped, shipped_with

PROD = "prod"


def _store():
    return shipped(PROD).container("objectstore")


def test_the_store_runs_the_pinned_garage_image():
    assert shipped(PROD).image_name("objectstore") == "dxflrs/garage:v2.4.1"
    assert _store().inputs["command"] == ["/garage", "server"]


def test_the_config_reads_every_secret_from_a_file_and_holds_none():
    store = _store()
    config = tomllib.loads(store.upload_content("/etc/garage.toml"))
    assert config["rpc_secret_file"] == "/run/secrets/objectstore-rpc-secret"
    assert config["admin"]["admin_token_file"] == "/run/secrets/objectstore-admin-token"
    assert config["admin"]["metrics_token_file"] == "/run/secrets/objectstore-metrics-token"
    assert not {"rpc_secret", "admin_token", "metrics_token"} & (set(config) | set(config["admin"]))
    assert config["replication_factor"] == 1 and config["s3_api"]["s3_region"] == "us-east-1"


def test_secret_files_are_readable_by_the_store_process_alone():
    store = _store()
    for name in ("objectstore-rpc-secret", "objectstore-admin-token", "objectstore-metrics-token"):
        upload = store.uploads()[f"/run/secrets/{name}"]
        assert store.upload_is_secret(f"/run/secrets/{name}")
        assert (upload["owner"], upload["group"], upload["permissions"]) == ("0", "0", "0400")
        assert len(upload["content"]) == 64  # 32 bytes, hex, as Garage requires for the RPC secret


def test_metadata_and_data_live_on_a_retained_volume_protected_in_prod():
    run = shipped(PROD)
    assert run.container("objectstore").inputs["volumes"] == [
        {"containerPath": "/var/lib/garage", "volumeName": "mlplatform-prod-objectstore-data", "readOnly": False}]
    volume = next(v for v in run.of_type("Volume") if v.name == "objectstore-data")
    assert volume.retain_on_delete and volume.protect


def test_the_health_check_asks_the_running_node():
    check = _store().inputs["healthcheck"]
    assert check["tests"] == ["CMD", "/garage", "status"]


def test_the_s3_api_stays_inside_the_network_unless_a_port_is_set():
    assert "ports" not in _store().inputs
    run = shipped_with(PROD, object_store={"enabled": True, "port": 3900})
    assert run.container("objectstore").inputs["ports"] == [{"internal": 3900, "external": 3900, "ip": "127.0.0.1"}]
    assert run.value("endpoints")["object_store"]["url"] == "http://127.0.0.1:3900"


def test_limits_follow_the_config():
    assert _store().inputs["memory"] == 1024


def test_the_store_is_absent_unless_enabled():
    assert "objectstore" not in shipped("dev").containers()
    assert "object_store" not in shipped("dev").value("endpoints")


def test_endpoints_and_credentials_are_in_the_outputs():
    run = shipped(PROD)
    endpoint = run.value("endpoints")["object_store"]
    assert endpoint == {"url": None, "bucket": "mlflow-artifacts", "region": "us-east-1",
                        "internal_url": "http://objectstore:3900"}
    credentials = run.value("credentials")["object_store"]
    assert len(credentials["admin_token"]) == 64
    assert credentials["mlflow_access_key_id"].startswith("GK") and len(credentials["mlflow_access_key_id"]) == 26
    assert len(credentials["mlflow_secret_access_key"]) == 64
