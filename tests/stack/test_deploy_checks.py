"""A one-shot job that exits non-zero fails `pulumi up`, naming the job, instead of passing silently."""

from __future__ import annotations

import pulumi
import pytest

from testing.program import all_services_config, run_program
from testing.program import ALL_SERVICES, deployed

JOBS = sorted(name for name, c in deployed(ALL_SERVICES).containers().items() if c.inputs.get("attach"))


@pytest.mark.parametrize("job", JOBS)
def test_a_failed_job_fails_the_deploy_and_names_itself(job):
    with pytest.raises(pulumi.RunError, match=f"{job} exited with code 3"):
        run_program("prod", all_services_config(), job_exit_codes={job: 3})


@pytest.mark.parametrize("job", JOBS)
def test_a_preview_never_fails_on_a_job_it_has_not_run(job):
    run = run_program("prod", all_services_config(), preview=True, job_exit_codes={job: 3})
    assert not run.exports["checks"].known


def test_the_stack_has_jobs_to_check():
    assert "airflow-init" in JOBS and "airbyte-bootloader" in JOBS
