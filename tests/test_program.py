"""The whole program for each Pulumi.<stack>.yaml: outputs and platform-wide rules."""

from __future__ import annotations

import pytest

from tests.helpers import STACKS, program_for


@pytest.mark.parametrize("stack", STACKS)
def test_endpoints_list_browser_and_in_network_urls(stack):
    endpoints = program_for(stack).exports["endpoints"]
    assert not endpoints.secret
    assert endpoints.value["mlflow"] == {"url": "http://127.0.0.1:5000", "internal_url": "http://mlflow:5000"}
    assert endpoints.value["airflow"] == {"url": "http://127.0.0.1:8080", "internal_url": "http://airflow-apiserver:8080"}
    assert endpoints.value["postgres"]["internal_url"] == "postgresql://postgres:5432"


@pytest.mark.parametrize("stack", STACKS)
def test_credentials_are_one_secret_output(stack):
    credentials = program_for(stack).exports["credentials"]
    assert credentials.secret
    assert credentials.value["airflow"]["username"] == "admin"
    assert len(credentials.value["airflow"]["password"]) == 32


@pytest.mark.parametrize("stack", STACKS)
def test_no_port_is_published_beyond_the_bind_address(stack):
    for name, c in program_for(stack).mocks.containers().items():
        for port in c.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", name


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_uses_an_image_id_and_is_labelled(stack):
    run = program_for(stack)
    image_ids = {r.outputs["imageId"] for r in run.mocks.of_type("RemoteImage")}
    for name, c in run.mocks.containers().items():
        assert c.inputs["image"] in image_ids, name
        labels = {entry["label"]: entry["value"] for entry in c.inputs["labels"]}
        assert labels["org.mlplatform.stack"] == stack, name


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_is_on_the_stack_network(stack):
    run = program_for(stack)
    network = run.mocks.of_type("Network")[0]
    assert network.inputs["name"] == f"mlplatform-{stack}"
    for name, c in run.mocks.containers().items():
        assert c.inputs["networksAdvanced"][0]["name"] == f"mlplatform-{stack}", name


def test_prod_limits_every_container():
    for name, c in program_for("prod").mocks.containers().items():
        assert c.inputs.get("memory") and c.inputs.get("cpus"), name


@pytest.mark.parametrize("stack", STACKS)
def test_components_use_their_type_tokens(stack):
    types = {r.typ for r in program_for(stack).resources if not r.custom}
    assert {"mlplatform:index:Database", "mlplatform:index:MLflowServer", "mlplatform:index:AirflowCluster"} <= types


@pytest.mark.parametrize("stack", STACKS)
def test_no_random_id_or_string_is_used_for_secrets(stack):
    types = {r.typ for r in program_for(stack).resources}
    assert not {"random:index/randomId:RandomId", "random:index/randomString:RandomString"} & types


def test_secrets_are_stable_resources_not_regenerated_per_container():
    run = program_for("prod")
    passwords = [r.name for r in run.mocks.of_type("RandomPassword")]
    assert len(passwords) == len(set(passwords))
    assert "airflow-admin" in passwords and "redis" in passwords


def test_mlflow_waits_for_the_database():
    containers = program_for("dev").mocks.containers()
    assert containers["postgres"].urn in containers["mlflow"].dependencies


def test_generated_secrets_are_kept_across_runs_with_the_same_state():
    from tests.pulumi_mocks import run_program

    state: dict = {}
    first = run_program("dev", state=state).exports["credentials"].value
    second = run_program("dev", state=state).exports["credentials"].value
    third = run_program("dev").exports["credentials"].value
    assert first == second
    assert first["airflow"]["password"] != third["airflow"]["password"]


def test_airbyte_enabled_adds_its_component_databases_and_airflow_connection():
    from tests.helpers import program_with
    from tests.pulumi_mocks import env_dict

    connection_id = "2f9c1e4a-7b3d-4c1e-9a8b-0123456789ab"
    run = program_with("dev", airbyte={"enabled": True, "connection_id": connection_id})
    containers = run.mocks.containers()
    assert "airbyte-server" in containers
    logins = env_dict(containers["postgres"])["MLPLATFORM_DB_LOGINS"].split()
    assert any(login.startswith("airbyte:airbyte:") for login in logins)
    assert any(login.startswith("temporal:temporal:") for login in logins)
    scheduler = env_dict(containers["airflow-scheduler"])
    assert scheduler["MLPLATFORM_AIRBYTE_ENABLED"] == "true"
    assert scheduler["MLPLATFORM_AIRBYTE_CONNECTION_ID"] == connection_id
    assert '"conn_type": "airbyte"' in scheduler["AIRFLOW_CONN_AIRBYTE_DEFAULT"].replace('":"', '": "')
    assert "airbyte" in run.exports["credentials"].value
    assert run.exports["endpoints"].value["airbyte"]["url"] == "http://127.0.0.1:8000"


def test_airbyte_off_by_default_declares_nothing_of_it():
    containers = program_for("dev").mocks.containers()
    assert not [name for name in containers if name.startswith("airbyte")]


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_is_deployed_with_its_credentials(stack):
    run = program_for(stack)
    assert "grafana" in run.mocks.containers()
    assert run.exports["endpoints"].value["grafana"]["url"] == "http://127.0.0.1:3000"
    assert len(run.exports["credentials"].value["grafana"]["password"]) == 32
