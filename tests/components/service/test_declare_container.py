"""declare_container: what every service container gets from the one shared declaration."""

from __future__ import annotations

import pulumi

from components.service import ContainerSpec, FileOwner, HealthCheck, StackContext, Stop, Upload, declare_container
from config.models import Limits
from testing.mocks import Recorded
from testing.program import declare_component

CHECK = HealthCheck(test=("CMD", "true"))


def _declare(spec: ContainerSpec, bind: str = "127.0.0.1") -> Recorded:
    def build(ctx: StackContext) -> dict:
        return {"id": declare_container(spec, ctx).id}

    return declare_component(build, bind_address=bind).container(spec.service)


def test_long_running_service_is_named_aliased_restarted_and_waited_for():
    c = _declare(ContainerSpec(service="svc", image="sha256:abc", healthcheck=CHECK))
    assert c.inputs["name"] == "mlplatform-dev-svc"
    assert c.inputs["restart"] == "unless-stopped"
    assert c.inputs["wait"] is True and c.inputs["waitTimeout"] == 300
    assert c.inputs["networksAdvanced"] == [{"name": "mlplatform-dev", "aliases": ["svc"]}]
    assert c.inputs["image"] == "sha256:abc"


def test_port_is_published_on_the_bind_address_only():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, internal_port=80, host_port=8081))
    assert c.inputs["ports"] == [{"internal": 80, "external": 8081, "ip": "127.0.0.1"}]


def test_no_port_is_published_without_host_port():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, internal_port=80))
    assert "ports" not in c.inputs


def test_health_check_is_passed_in_docker_form():
    hc = HealthCheck(test=("CMD-SHELL", "exit 0"), interval_s=7, timeout_s=3, retries=2, start_period_s=9)
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=hc))
    assert c.inputs["healthcheck"] == {"tests": ["CMD-SHELL", "exit 0"], "interval": "7s", "timeout": "3s",
                                       "retries": 2, "startPeriod": "9s"}


def test_limits_become_memory_and_cpus():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, limits=Limits(memory_mb=512, cpus=1.5)))
    assert c.inputs["memory"] == 512 and c.inputs["cpus"] == "1.5"
    assert c.inputs["memorySwap"] == 512, "no swap beyond the limit"


def test_labels_name_project_stack_service_and_role():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK))
    assert c.labels() == {"org.mlplatform.project": "mlplatform", "org.mlplatform.stack": "dev",
                          "org.mlplatform.service": "svc", "org.mlplatform.role": "service"}


def test_replacement_deletes_first_and_health_check_changes_replace():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK))
    assert c.delete_before_replace
    assert c.replace_on_changes == ["healthcheck"]
    assert c.replacement_trigger is None


def test_one_shot_job_is_attached_not_restarted_and_reruns_every_deploy():
    c = _declare(ContainerSpec(service="job", image="i", one_shot=True, rerun_every_deploy=True))
    assert c.inputs["attach"] is True and c.inputs["mustRun"] is False
    assert c.inputs["restart"] == "no" and c.inputs["wait"] is False
    assert c.replacement_trigger == "test-deploy"


def test_secret_env_entries_are_sent_as_secrets():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, env={"A": "1"},
                               secret_env={"TOKEN": pulumi.Output.secret("s3cr3t-value")}))
    assert c.env() == {"A": "1", "TOKEN": "s3cr3t-value"}
    # Pulumi sends a list holding a secret as one secret, so the whole env is secret in state.
    assert "TOKEN" in c.secret_env_keys()


def test_an_env_without_secrets_is_plain():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, env={"A": "1"}))
    assert c.secret_env_keys() == set()


def test_plain_values_given_as_secret_env_are_made_secret():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, secret_env={"K": "plain"}))
    assert "K" in c.secret_env_keys()


def test_secret_files_are_secret_uploads_under_run_secrets_readable_by_their_owner_only():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, secret_files={"token": "abc"},
                               secrets_owner=FileOwner(uid=1000, gid=1000)))
    assert c.upload_content("/run/secrets/token") == "abc"
    assert c.upload_is_secret("/run/secrets/token")
    assert {k: c.uploads()["/run/secrets/token"][k] for k in ("owner", "group", "permissions")} == {
        "owner": "1000", "group": "1000", "permissions": "0400"}
    assert "abc" not in " ".join(c.inputs["envs"])


def test_a_secret_upload_gets_the_same_owner_and_mode():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, secrets_owner=FileOwner(472, 0, "0440"),
                               uploads=(Upload("/etc/app/key", "k", secret=True), Upload("/etc/app/conf", "plain"))))
    assert c.uploads()["/etc/app/key"]["permissions"] == "0440" and c.upload_is_secret("/etc/app/key")
    assert "permissions" not in c.uploads()["/etc/app/conf"]


def test_services_stop_with_their_signal_and_a_grace_period_on_replace_and_destroy():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, stop=Stop("SIGINT", 45)))
    assert (c.inputs["stopSignal"], c.inputs["stopTimeout"], c.inputs["destroyGraceSeconds"]) == ("SIGINT", 45, 45)
