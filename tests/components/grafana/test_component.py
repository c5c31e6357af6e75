"""The Grafana component under realistic recording mocks (no Docker, no Pulumi CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from components import grafana as grafana_module
from components import secrets
from components.database import ConnectionInfo
from components.grafana import (
    ADMIN_PASSWORD_FILE,
    DASHBOARD_PROVIDER_FILE,
    DASHBOARDS_DIR,
    DATASOURCE_FILE,
    DATASOURCE_PASSWORD_FILE,
    SECRET_KEY_FILE,
    Grafana,
    GrafanaArgs,
    dashboard_files,
)
from components.service import StackContext
from config.models import Grafana as GrafanaConfig
from config.versions import DEFAULT_IMAGES
from testing.mocks import Recorded
from testing.program import ProgramRun, declare_component

IMAGE = DEFAULT_IMAGES["grafana"]


@dataclass
class Deployed:
    run: ProgramRun

    @property
    def container(self) -> Recorded:
        return self.run.container("grafana")

    @property
    def outputs(self) -> dict[str, Any]:
        return {k: e.value for k, e in self.run.exports.items()}

    @property
    def reader_password(self) -> str:
        return str(self.outputs["reader_password"])

    def upload_content(self, path: str) -> str:
        return self.container.upload_content(path)

    def upload_is_secret(self, path: str) -> bool:
        return self.container.upload_is_secret(path)


def deploy(config: GrafanaConfig | None = None, bind_address: str = "127.0.0.1") -> Deployed:
    settings = config or GrafanaConfig()

    def build(ctx: StackContext) -> dict[str, Any]:
        reader_password = secrets.password("db-mlflow_reader")
        component = Grafana("grafana", GrafanaArgs(
            config=settings, image=IMAGE, context=ctx,
            datasource=ConnectionInfo("postgres", 5432, "mlflow_reader", "mlflow", reader_password),
        ))
        return {"url": component.url, "internal_url": component.internal_url,
                "admin_username": component.admin_username, "admin_password": component.admin_password,
                "reader_password": reader_password, "container": component.container.id}

    return Deployed(declare_component(build, bind_address=bind_address))


@pytest.fixture(scope="module")
def deployed() -> Deployed:
    return deploy()


def test_image_is_the_pinned_ref_passed_by_image_id(deployed):
    assert deployed.run.image_name("grafana") == IMAGE


def test_no_env_var_holds_a_password(deployed):
    env = deployed.container.env()
    for password in (deployed.outputs["admin_password"], deployed.reader_password):
        assert not any(password in value for value in env.values())
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env


def test_admin_password_comes_from_a_secret_uploaded_file(deployed):
    assert deployed.container.env()["GF_SECURITY_ADMIN_PASSWORD__FILE"] == ADMIN_PASSWORD_FILE
    assert deployed.upload_content(ADMIN_PASSWORD_FILE) == deployed.outputs["admin_password"]
    assert deployed.upload_is_secret(ADMIN_PASSWORD_FILE)


def test_signing_key_is_generated_and_uploaded_as_a_secret_file(deployed):
    assert deployed.container.env()["GF_SECURITY_SECRET_KEY__FILE"] == SECRET_KEY_FILE
    key = deployed.upload_content(SECRET_KEY_FILE)
    assert len(key) == 40 and key in deployed.run.mocks.generated_secrets
    assert deployed.upload_is_secret(SECRET_KEY_FILE)


def test_data_volume_is_mounted_and_retained_on_delete(deployed):
    [volume] = deployed.run.mocks.of_type("Volume")
    assert volume.retain_on_delete
    mounts = {v["containerPath"]: v.get("volumeName") for v in deployed.container.inputs["volumes"]}
    assert mounts == {"/var/lib/grafana": volume.inputs["name"]}


def _datasource(deployed) -> dict:
    [datasource] = yaml.safe_load(deployed.upload_content(DATASOURCE_FILE))["datasources"]
    return datasource


def test_datasource_is_the_readers_postgres_connection(deployed):
    datasource = _datasource(deployed)
    assert (datasource["type"], datasource["uid"]) == ("grafana-postgresql-datasource", "mlflow-postgres")
    assert (datasource["url"], datasource["user"]) == ("postgres:5432", "mlflow_reader")
    assert datasource["jsonData"]["database"] == "mlflow" and "database" not in datasource
    assert datasource["jsonData"]["sslmode"] == "disable"


def test_datasource_password_is_read_from_a_secret_file(deployed):
    datasource = _datasource(deployed)
    assert datasource["secureJsonData"] == {"password": f"$__file{{{DATASOURCE_PASSWORD_FILE}}}"}
    assert deployed.upload_content(DATASOURCE_PASSWORD_FILE) == deployed.reader_password
    assert deployed.upload_is_secret(DATASOURCE_PASSWORD_FILE)


def test_provisioning_yaml_itself_holds_no_password(deployed):
    # Pulumi marks the whole ``uploads`` property secret once one entry is; the YAML must still carry no password,
    # so it is safe to read in the container, in diffs and in `docker cp` output.
    provisioning = deployed.upload_content(DATASOURCE_FILE) + deployed.upload_content(DASHBOARD_PROVIDER_FILE)
    for password in (deployed.reader_password, deployed.outputs["admin_password"]):
        assert password not in provisioning


def test_dashboard_provider_points_at_the_uploaded_dashboards(deployed):
    [provider] = yaml.safe_load(deployed.upload_content(DASHBOARD_PROVIDER_FILE))["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == DASHBOARDS_DIR
    uploaded = {path.rsplit("/", 1)[1]: u["content"] for path, u in deployed.container.uploads().items()
                if path.startswith(DASHBOARDS_DIR + "/")}
    assert uploaded == dashboard_files() and len(uploaded) >= 3


def test_anonymous_access_and_sign_up_are_off(deployed):
    env = deployed.container.env()
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_usage_reporting_update_checks_and_external_snapshots_are_off(deployed):
    env = deployed.container.env()
    for key in (
        "GF_ANALYTICS_REPORTING_ENABLED",
        "GF_ANALYTICS_CHECK_FOR_UPDATES",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES",
        "GF_PLUGINS_PREINSTALL_DISABLED",
        "GF_SNAPSHOTS_EXTERNAL_ENABLED",
    ):
        assert env[key] == ("true" if key == "GF_PLUGINS_PREINSTALL_DISABLED" else "false"), key


def test_health_check_calls_api_health_with_curl(deployed):
    tests = deployed.container.inputs["healthcheck"]["tests"]
    assert tests[0] == "CMD" and tests[1] == "curl" and "--fail" in tests
    assert tests[-1] == "http://127.0.0.1:3000/api/health"


def test_port_is_published_only_on_the_bind_address():
    container = deploy(GrafanaConfig(port=3300), bind_address="10.1.2.3").container
    assert container.inputs["ports"] == [{"internal": 3000, "external": 3300, "ip": "10.1.2.3"}]


def test_root_url_is_the_browser_url(deployed):
    assert deployed.container.env()["GF_SERVER_ROOT_URL"] == "http://127.0.0.1:3000/"
    assert deployed.outputs["url"] == "http://127.0.0.1:3000"


def test_outputs_give_urls_and_a_secret_admin_password(deployed):
    assert deployed.outputs["internal_url"] == "http://grafana:3000"
    assert deployed.outputs["admin_username"] == "admin"
    assert deployed.outputs["admin_password"] in deployed.run.mocks.generated_secrets
    assert deployed.run.is_secret("admin_password")


def test_resources_are_children_of_the_component(deployed):
    [component] = [r for r in deployed.run.resources if r.typ == "mlplatform:index:Grafana"]
    assert deployed.container.parent == component.urn


def test_dashboards_with_broken_json_fail_the_preview(tmp_path):
    (tmp_path / "broken.json").write_text("{ not json")
    with pytest.raises(ValueError, match="broken.json"):
        dashboard_files(tmp_path)


def test_dashboards_with_duplicate_uids_fail_the_preview(tmp_path):
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text('{"uid": "same", "panels": []}')
    with pytest.raises(ValueError, match="uid 'same'"):
        dashboard_files(tmp_path)


def test_password_with_dollar_is_refused_for_provisioning():
    with pytest.raises(ValueError, match=r"\$"):
        grafana_module._provisionable_password("abc$HOME")
