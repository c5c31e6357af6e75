"""The shared container declaration: what every service container gets."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
import pytest

from components.service import ContainerSpec, HealthCheck, StackContext, declare_container, env_list
from config.models import Limits
from tests.pulumi_mocks import setup_mocks

CHECK = HealthCheck(test=("CMD", "true"))


def _declare(spec: ContainerSpec, bind: str = "127.0.0.1"):
    mocks = setup_mocks("dev", {})

    @pulumi.runtime.test
    def run():
        network = docker.Network("net", name="mlplatform-dev")
        ctx = StackContext("mlplatform", "dev", network, network.name, bind, 123, "deploy-1")
        declare_container(spec, ctx)
        return network.id

    run()
    return mocks.of_type("Container")[0]


def test_long_running_service_defaults():
    c = _declare(ContainerSpec(service="svc", image="sha256:abc", healthcheck=CHECK))
    assert c.inputs["name"] == "mlplatform-dev-svc"
    assert c.inputs["restart"] == "unless-stopped"
    assert c.inputs["wait"] is True and c.inputs["waitTimeout"] == 123
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


def test_limits_and_labels():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, limits=Limits(memory_mb=512, cpus=1.5)))
    assert c.inputs["memory"] == 512 and c.inputs["cpus"] == "1.5"
    labels = {entry["label"]: entry["value"] for entry in c.inputs["labels"]}
    assert labels == {"org.mlplatform.project": "mlplatform", "org.mlplatform.stack": "dev",
                      "org.mlplatform.service": "svc", "org.mlplatform.role": "service"}


def test_replacement_is_delete_first_and_health_check_changes_replace():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK))
    assert c.delete_before_replace
    assert c.replace_on_changes == ["healthcheck"]
    assert not c.replacement_trigger


def test_one_shot_job_is_attached_and_not_restarted():
    c = _declare(ContainerSpec(service="job", image="i", one_shot=True, rerun_every_deploy=True))
    assert c.inputs["attach"] is True and c.inputs["mustRun"] is False
    assert c.inputs["restart"] == "no" and c.inputs["wait"] is False
    assert c.replacement_trigger


def test_secret_env_values_are_secret():
    c = _declare(ContainerSpec(service="svc", image="i", healthcheck=CHECK, env={"A": "1"},
                               secret_env={"TOKEN": pulumi.Output.secret("s3cr3t-value")}))
    assert "TOKEN=s3cr3t-value" in c.inputs["envs"]
    index = c.inputs["envs"].index("TOKEN=s3cr3t-value")
    assert c.is_secret(f"envs[{index}]")


def test_plain_secret_env_value_is_wrapped_as_secret():
    entries = env_list(ContainerSpec(service="svc", image="i", healthcheck=CHECK, secret_env={"K": "v"}))
    assert isinstance(entries[0], pulumi.Output)


def test_service_without_health_check_is_rejected():
    with pytest.raises(ValueError, match="needs a health check"):
        ContainerSpec(service="svc", image="i")


def test_same_key_plain_and_secret_is_rejected():
    with pytest.raises(ValueError, match="both plain and secret"):
        ContainerSpec(service="svc", image="i", healthcheck=CHECK, env={"K": "a"}, secret_env={"K": "b"})


def test_host_port_without_internal_port_is_rejected():
    with pytest.raises(ValueError, match="needs internal_port"):
        ContainerSpec(service="svc", image="i", healthcheck=CHECK, host_port=80)
