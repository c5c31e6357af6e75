"""The server's start wrapper, executed: secrets come from files into the server's env, never its arguments."""

from __future__ import annotations

from testing.program import shipped
from testing.scripts import Sandbox, secrets_on_command_lines


def _run_wrapper(tmp_path, stack: str):
    c = shipped(stack).container("mlflow")
    box = Sandbox(tmp_path, container_paths=("/run/secrets", "/etc/mlflow"))
    for path, upload in c.uploads().items():
        box.write(path, upload["content"])
    box.stub("mlflow", "exit 0")
    shell, flag, script, *args = c.inputs["command"]
    result = box.run(script, c.env(), args=tuple(args[1:]), shell=shell)
    return c, box, result


def test_the_server_reads_its_backend_uri_from_the_secret_file(tmp_path):
    c, box, result = _run_wrapper(tmp_path, "dev")
    assert result.returncode == 0, result.stderr
    [server] = box.calls("mlflow")
    assert server.env["MLFLOW_BACKEND_STORE_URI"] == c.upload_content("/run/secrets/mlflow-backend-store-uri")
    assert server.argv[:3] == ["server", "--host", "0.0.0.0"]


def test_with_auth_the_flask_key_comes_from_its_file_and_the_auth_app_is_on(tmp_path):
    c, box, result = _run_wrapper(tmp_path, "prod")
    [server] = box.calls("mlflow")
    assert server.env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == c.upload_content("/run/secrets/mlflow-flask-secret-key")
    assert server.argv[server.argv.index("--app-name") + 1] == "basic-auth"


def test_no_generated_secret_reaches_the_servers_command_line(tmp_path):
    _, box, _ = _run_wrapper(tmp_path, "prod")
    assert secrets_on_command_lines(box.calls(), shipped("prod").mocks.generated_secrets) == []
