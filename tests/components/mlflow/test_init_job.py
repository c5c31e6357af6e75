"""MLflow's init job as declared: runs before the server on every deploy, secrets from files, checked."""

from __future__ import annotations

from testing.program import shipped
from testing.scripts import Sandbox, secrets_on_command_lines


def test_the_init_job_runs_every_deploy_before_the_server():
    run = shipped("prod")
    init = run.container("mlflow-init")
    assert init.inputs["attach"] is True and init.replacement_trigger is not None
    assert init.urn in run.container("mlflow").dependencies
    assert run.value("checks")["mlflow_init_succeeded"] is True


def test_the_init_job_upgrades_the_schema_even_without_auth():
    script = shipped("dev").container("mlflow-init").inputs["command"][2]
    assert "mlflow_init.py upgrade --uri-file /run/secrets/mlflow-backend-store-uri" in script
    assert " users " not in script


def test_with_auth_it_ensures_the_admin_and_the_pipelines_user_from_their_files():
    script = shipped("prod").container("mlflow-init").inputs["command"][2]
    assert "--user admin:/run/secrets/mlflow-admin-password:admin" in script
    assert "--user airflow:/run/secrets/mlflow-airflow-password:user" in script
    assert "--grant airflow:experiment:anomaly-detection" in script
    assert "--grant airflow:registered_model:anomaly-detector" in script


def test_the_pipelines_password_in_the_job_is_the_one_airflow_gets():
    run = shipped("prod")
    password = run.container("mlflow-init").upload_content("/run/secrets/mlflow-airflow-password")
    assert password == run.value("credentials")["mlflow_pipelines"]["password"]


def test_the_init_script_stops_at_the_first_failure_and_passes_no_secret(tmp_path):
    init = shipped("prod").container("mlflow-init")
    box = Sandbox(tmp_path, container_paths=("/run/secrets", "/etc/mlflow"))
    for path, upload in init.uploads().items():
        box.write(path, upload["content"])
    box.stub("python", '[ "$2" = upgrade ] && exit 5; exit 0')
    result = box.run(init.inputs["command"][2], init.env(), shell="sh")
    assert result.returncode == 5 and len(box.calls("python")) == 1
    box.stub("python", "exit 0")
    assert box.run(init.inputs["command"][2], init.env(), shell="sh").returncode == 0
    assert secrets_on_command_lines(box.calls(), shipped("prod").mocks.generated_secrets) == []
