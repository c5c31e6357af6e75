"""The mocks answer like the real providers: formats, secret-ness, unknowns in a preview, failing jobs."""

from __future__ import annotations

import base64
import re

import pulumi
import pulumi_docker as docker
import pulumi_random as random
import pytest

from components.service import ContainerSpec, StackContext, declare_container, job_succeeded
from testing.mocks import is_unknown
from testing.program import declare_component


def test_random_bytes_base64_is_padded_standard_base64_of_the_requested_length():
    run = declare_component(lambda ctx: {"b": random.RandomBytes("b", length=32).base64})
    value = run.value("b")
    assert len(value) == 44 and value.endswith("=") and len(base64.b64decode(value)) == 32
    assert run.is_secret("b")


def test_random_password_honours_length_and_specials_and_is_secret():
    run = declare_component(lambda ctx: {"p": random.RandomPassword("p", length=20, override_special="-_").result})
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", run.value("p"))
    assert run.is_secret("p")


def test_remote_image_ids_are_sha256_digests():
    run = declare_component(lambda ctx: {"i": docker.RemoteImage("i", name="redis:7.4.6").image_id})
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", run.value("i"))


def _job(ctx: StackContext) -> dict:
    job = declare_container(ContainerSpec(service="job", image="i", one_shot=True), ctx)
    return {"ok": job_succeeded(job, "job"), "code": job.exit_code}


def test_attached_jobs_report_exit_code_0_by_default():
    run = declare_component(_job)
    assert run.value("code") == 0 and run.value("ok") is True


def test_a_job_can_be_made_to_fail_and_then_fails_the_deploy():
    with pytest.raises(pulumi.RunError, match="job exited with code 2"):
        declare_component(_job, job_exit_codes={"job": 2})


def test_a_preview_leaves_computed_values_unknown():
    run = declare_component(lambda ctx: {"p": random.RandomPassword("p", length=20).result,
                                         "i": docker.RemoteImage("i", name="redis:7.4.6").image_id}, preview=True)
    assert not run.exports["p"].known and not run.exports["i"].known
    assert run.exports["p"].secret


def test_a_preview_sends_unknown_inputs_onward():
    def build(ctx: StackContext) -> dict:
        image = docker.RemoteImage("i", name="redis:7.4.6")
        return {"c": declare_container(ContainerSpec(service="job", image=image.image_id, one_shot=True), ctx).id}

    run = declare_component(build, preview=True)
    assert is_unknown(run.container("job").inputs["image"])



def test_new_keepers_replace_a_generated_value_and_going_back_never_restores_the_old_one():
    """pulumi-random replaces a value whose keepers change; the replaced value is gone for good."""
    from testing.program import run_program, stack_config, with_overrides

    state: dict = {}

    def admin_password(logins: int) -> str:
        config = with_overrides(stack_config("dev"), rotation={"logins": logins})
        return str(run_program("dev", config, state=state).value("credentials")["airflow"]["password"])

    first, again, rotated, back = admin_password(0), admin_password(0), admin_password(1), admin_password(0)
    assert first == again
    assert len({first, rotated, back}) == 3
