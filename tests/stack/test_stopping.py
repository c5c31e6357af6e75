"""Every long-running container stops on the signal its process shuts down cleanly on, with time to do it."""

from __future__ import annotations

from testing.program import ProgramRun, shipped


def _services(stack: ProgramRun) -> dict:
    return {name: c for name, c in stack.containers().items() if not c.inputs.get("attach")}


def test_every_service_has_a_stop_signal_and_a_grace_period(stack: ProgramRun):
    for name, c in _services(stack).items():
        assert c.inputs.get("stopSignal", "").startswith("SIG"), name
        assert c.inputs.get("destroyGraceSeconds", 0) >= 10, name


def test_replace_destroy_and_docker_stop_give_the_same_grace(stack: ProgramRun):
    for name, c in _services(stack).items():
        assert c.inputs["stopTimeout"] == c.inputs["destroyGraceSeconds"], name


def test_postgresql_gets_its_fast_shutdown_signal():
    postgres = shipped("prod").container("postgres")
    assert postgres.inputs["stopSignal"] == "SIGINT" and postgres.inputs["destroyGraceSeconds"] >= 60


def test_celery_workers_get_time_to_finish_their_tasks():
    for name, c in shipped("prod").containers().items():
        if "-worker-" in name:
            assert c.inputs["stopSignal"] == "SIGTERM" and c.inputs["destroyGraceSeconds"] >= 300, name
            assert c.env()["DUMB_INIT_SETSID"] == "0", name


def test_the_local_executor_scheduler_stops_like_a_worker():
    scheduler = shipped("dev").container("airflow-scheduler")
    assert scheduler.inputs["destroyGraceSeconds"] >= 300 and scheduler.env()["DUMB_INIT_SETSID"] == "0"


def test_pgbouncer_gets_its_safe_shutdown_signal():
    assert shipped("prod").container("pgbouncer").inputs["stopSignal"] == "SIGINT"
