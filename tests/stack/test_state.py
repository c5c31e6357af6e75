"""Generated secrets stay stable across deploys (they live in state), and differ between stacks."""

from __future__ import annotations

from testing.program import run_program


def test_generated_secrets_are_kept_across_runs_with_the_same_state():
    state: dict = {}
    first = run_program("dev", state=state).value("credentials")
    second = run_program("dev", state=state).value("credentials")
    assert first == second


def test_a_new_state_generates_new_secrets():
    first = run_program("dev", state={}).value("credentials")
    other = run_program("dev", state={}).value("credentials")
    assert first["airflow"]["password"] != other["airflow"]["password"]
