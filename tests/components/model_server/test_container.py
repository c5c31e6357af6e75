"""The model server as declared: built image, its own read-only MLflow user as a file, health, port, limits."""

from __future__ import annotations

from testing.program import shipped, shipped_with

PROD = "prod"


def _server():
    return shipped(PROD).container("modelserver")


def test_the_image_is_built_from_the_repo_on_the_pinned_python():
    image = next(r for r in shipped(PROD).of_type("RemoteImage") if r.name == "modelserver-image")
    assert image.inputs["build"]["dockerfile"] == "images/modelserver/Dockerfile"
    assert image.inputs["build"]["buildArgs"] == {"PYTHON_BASE": "python:3.11.14-slim-bookworm"}


def test_it_serves_the_champion_of_the_pipelines_model_and_follows_it_at_the_configured_pace():
    env = _server().env()
    assert (env["MODEL_NAME"], env["MODEL_ALIAS"], env["MODEL_POLL_SECONDS"]) == ("anomaly-detector", "champion", "30")
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    poll = shipped_with(PROD, model_server={"poll_seconds": 10}).container("modelserver").env()["MODEL_POLL_SECONDS"]
    assert poll == "10"


def test_it_reads_the_registry_as_its_own_user_from_a_credentials_file():
    run = shipped(PROD)
    server = run.container("modelserver")
    path = "/home/modelserver/.mlflow/credentials"
    content = server.upload_content(path)
    assert content.startswith("[mlflow]\nmlflow_tracking_username = modelserver\n")
    assert server.upload_is_secret(path)
    upload = server.uploads()[path]
    assert (upload["owner"], upload["group"], upload["permissions"]) == ("1000", "1000", "0400")
    assert not {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} & set(server.env())
    assert run.value("credentials")["mlflow"]["password"] not in content  # not the admin


def test_mlflow_creates_the_model_servers_user_as_a_plain_user():
    init = " ".join(shipped(PROD).container("mlflow-init").inputs["command"])
    assert "--user modelserver:/run/secrets/mlflow-modelserver-password:user" in init
    assert "--grant modelserver" not in init  # MLflow's default permission (READ) is all it needs


def test_without_mlflow_auth_there_is_no_credentials_file():
    run = shipped_with("dev", model_server={"enabled": True})
    assert "/home/modelserver/.mlflow/credentials" not in run.container("modelserver").uploads()


def test_it_runs_as_the_images_user_and_needs_no_curl_for_its_health_check():
    server = _server()
    assert server.inputs["user"] == "1000:1000"
    test = server.inputs["healthcheck"]["tests"]
    assert test[:2] == ["CMD", "python"] and "/health" in test[-1]


def test_the_port_is_published_on_the_bind_address_only():
    assert _server().inputs["ports"] == [{"internal": 8080, "external": 5001, "ip": "127.0.0.1"}]
    assert shipped(PROD).value("endpoints")["model_server"] == {
        "url": "http://127.0.0.1:5001", "internal_url": "http://modelserver:8080"}


def test_an_unpublished_model_server_has_no_port_and_no_browser_url():
    run = shipped_with(PROD, model_server={"enabled": True, "port": None})
    assert "ports" not in run.container("modelserver").inputs
    assert run.value("endpoints")["model_server"]["url"] is None


def test_limits_follow_the_config():
    assert (_server().inputs["memory"], _server().inputs["cpus"]) == (1024, "1.0")


def test_it_starts_after_mlflow_and_is_off_unless_enabled():
    assert any(dep.endswith("::mlflow") for dep in _server().dependencies)
    assert "modelserver" not in shipped("dev").containers()
