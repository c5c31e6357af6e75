"""MLflowServer: host validation, artifact proxying, auth and health, as declared."""

from __future__ import annotations


from components.mlflow_server import allowed_hosts
from tests.helpers import program_for, program_with
from tests.pulumi_mocks import REPO_ROOT, env_dict, uploaded_files


def _mlflow(stack="dev"):
    return program_for(stack).mocks.containers()["mlflow"]


def test_allowed_hosts_cover_other_containers_and_the_browser():
    hosts = env_dict(_mlflow())["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    for expected in ("mlflow", "mlflow:5000", "127.0.0.1:5000", "localhost:5000"):
        assert expected in hosts


def test_allowed_hosts_include_a_non_loopback_bind_address_and_extra_names():
    hosts = allowed_hosts("10.1.2.3", 5001, ("mlflow.example.internal",))
    assert {"10.1.2.3:5001", "mlflow.example.internal", "mlflow.example.internal:5001"} <= set(hosts)


def test_artifacts_are_served_through_the_server_onto_a_volume():
    c = _mlflow()
    assert "--serve-artifacts" in c.inputs["command"]
    assert "--default-artifact-root" not in c.inputs["command"]
    assert env_dict(c)["MLFLOW_ARTIFACTS_DESTINATION"] == "/mlartifacts"
    assert c.inputs["volumes"] == [{"containerPath": "/mlartifacts", "volumeName": "mlplatform-dev-mlflow-artifacts", "readOnly": False}]


def test_backend_store_is_postgres_with_the_mlflow_role_in_a_secret_file():
    c = _mlflow()
    uri = uploaded_files(c)["/run/secrets/mlflow-backend-store-uri"]
    assert uri.startswith("postgresql+psycopg2://mlflow:") and uri.endswith("@postgres:5432/mlflow")
    assert c.is_secret("uploads")
    assert 'export MLFLOW_BACKEND_STORE_URI="$(cat /run/secrets/mlflow-backend-store-uri)"' in c.inputs["command"][2]
    assert not any("postgresql" in part for part in c.inputs["command"] + c.inputs["envs"])


def test_worker_count_follows_config():
    command = program_with("dev", mlflow={"workers": 3}).mocks.containers()["mlflow"].inputs["command"]
    assert command[command.index("--workers") + 1] == "3"


def test_health_check_needs_no_curl():
    test = _mlflow().inputs["healthcheck"]["tests"]
    assert test[:2] == ["CMD", "python"] and "/health" in test[-1]
    assert "curl" not in " ".join(test)


def test_telemetry_is_off():
    assert env_dict(_mlflow())["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_auth_off_in_dev():
    c = _mlflow("dev")
    assert "--app-name" not in c.inputs["command"]
    assert "mlflow" not in program_for("dev").exports["credentials"].value


def test_auth_on_in_prod_with_generated_admin_password_in_a_secret_file():
    run = program_for("prod")
    c = run.mocks.containers()["mlflow"]
    command = c.inputs["command"]
    assert command[command.index("--app-name") + 1] == "basic-auth"
    upload_index, upload = next((i, u) for i, u in enumerate(c.inputs["uploads"]) if u["file"].endswith("basic_auth.ini"))
    admin_password = run.exports["credentials"].value["mlflow"]["password"]
    assert f"admin_password = {admin_password}" in upload["content"]
    assert "/mlflow_auth" in upload["content"]
    assert c.is_secret(f"uploads[{upload_index}]") or c.is_secret("uploads")
    assert all(admin_password not in e for e in c.inputs["envs"])
    assert len(uploaded_files(c)["/run/secrets/mlflow-flask-secret-key"]) == 64
    assert "MLFLOW_FLASK_SERVER_SECRET_KEY" not in env_dict(c)


def test_image_is_built_from_the_repo_and_installs_nothing_at_start():
    run = program_for("dev")
    image = next(r for r in run.mocks.of_type("RemoteImage") if r.name == "mlflow-image")
    assert image.inputs["build"]["dockerfile"] == "images/mlflow/Dockerfile"
    assert image.inputs["build"]["buildArgs"] == {"PYTHON_BASE": "python:3.11.14-slim-bookworm"}
    assert image.inputs["name"].startswith("mlplatform/mlflow:") and image.inputs["keepLocally"] is True
    assert "pip" not in " ".join(_mlflow().inputs["command"])
    requirements = (REPO_ROOT / "images/mlflow/requirements.txt").read_text().split()
    assert {"mlflow", "psycopg2-binary", "boto3"} <= set(requirements)


def test_image_tag_changes_when_the_dockerfile_changes(tmp_path, monkeypatch):
    from components import images

    before = images.content_tag([REPO_ROOT / "images/mlflow"], {"A": "1"})
    assert before == images.content_tag([REPO_ROOT / "images/mlflow"], {"A": "1"})
    assert before != images.content_tag([REPO_ROOT / "images/mlflow"], {"A": "2"})
    copy = tmp_path / "images" / "mlflow"
    copy.mkdir(parents=True)
    for f in (REPO_ROOT / "images/mlflow").iterdir():
        (copy / f.name).write_text(f.read_text())
    first = images.content_tag([copy], {}, root=tmp_path)
    (copy / "Dockerfile").write_text((copy / "Dockerfile").read_text() + "\n# changed\n")
    assert images.content_tag([copy], {}, root=tmp_path) != first


def test_genai_job_runner_is_off_unless_configured():
    assert env_dict(_mlflow())["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    on = program_with("dev", mlflow={"background_jobs": True}).mocks.containers()["mlflow"]
    assert env_dict(on)["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "true"
