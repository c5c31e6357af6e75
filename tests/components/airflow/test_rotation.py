"""Rotating Airflow's secrets through the stack config: new values on the next deploy, Fernet the Airflow way."""

from __future__ import annotations

from cryptography.fernet import Fernet

from testing.program import run_program, stack_config, with_overrides


def _settings(state: dict, rotation: dict, service: str = "airflow-scheduler") -> dict[str, str]:
    run = run_program("prod", with_overrides(stack_config("prod"), rotation=rotation), state=state)
    return run.container(service).effective_settings()


def test_a_new_airflow_keys_generation_replaces_the_api_and_jwt_secrets():
    state: dict = {}
    before, after = _settings(state, {}), _settings(state, {"airflow_keys": 1})
    for option in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert before[option] != after[option]
    assert before["AIRFLOW__CORE__FERNET_KEY"] == after["AIRFLOW__CORE__FERNET_KEY"]


def test_the_same_generation_keeps_the_same_values():
    state: dict = {}
    assert _settings(state, {"redis": 2}) == _settings(state, {"redis": 2})


def test_during_a_fernet_rotation_the_new_key_encrypts_and_the_old_one_still_decrypts():
    state: dict = {}
    old = _settings(state, {})["AIRFLOW__CORE__FERNET_KEY"]
    rotating = _settings(state, {"fernet": 1, "fernet_previous": 0})["AIRFLOW__CORE__FERNET_KEY"]
    new, previous = rotating.split(",")
    assert previous == old and new != old
    token = Fernet(old.encode()).encrypt(b"connection password")
    from cryptography.fernet import MultiFernet

    assert MultiFernet([Fernet(new.encode()), Fernet(previous.encode())]).decrypt(token) == b"connection password"


def test_the_init_job_re_encrypts_only_while_rotating():
    state: dict = {}
    assert _settings(state, {"fernet": 1, "fernet_previous": 0}, "airflow-init")["MLPLATFORM_ROTATE_FERNET"] == "true"
    assert _settings(state, {"fernet": 1}, "airflow-init")["MLPLATFORM_ROTATE_FERNET"] == "false"


def test_after_the_rotation_the_old_key_is_dropped():
    state: dict = {}
    rotating = _settings(state, {"fernet": 1, "fernet_previous": 0})["AIRFLOW__CORE__FERNET_KEY"]
    done = _settings(state, {"fernet": 1})["AIRFLOW__CORE__FERNET_KEY"]
    assert done == rotating.split(",")[0] and "," not in done


def test_a_new_logins_generation_replaces_every_generated_login():
    state: dict = {}
    before = run_program("prod", state=state).value("credentials")
    after = run_program("prod", with_overrides(stack_config("prod"), rotation={"logins": 1}), state=state)
    after_credentials = after.value("credentials")
    for login in ("airflow", "mlflow", "mlflow_pipelines", "grafana"):
        assert before[login]["password"] != after_credentials[login]["password"], login
    assert before["postgres"]["password"] == after_credentials["postgres"]["password"]
