"""ContainerSpec refuses specs that would deploy something broken."""

from __future__ import annotations

import pytest

from components.service import ContainerSpec, HealthCheck, StackContext, declare_container
from testing.program import declare_component

CHECK = HealthCheck(test=("CMD", "true"))


def test_service_without_health_check_is_rejected():
    with pytest.raises(ValueError, match="needs a health check"):
        ContainerSpec(service="svc", image="i")


def test_same_key_plain_and_secret_is_rejected():
    with pytest.raises(ValueError, match="both plain and secret"):
        ContainerSpec(service="svc", image="i", healthcheck=CHECK, env={"K": "a"}, secret_env={"K": "b"})


def test_host_port_without_internal_port_is_rejected():
    with pytest.raises(ValueError, match="needs internal_port"):
        ContainerSpec(service="svc", image="i", healthcheck=CHECK, host_port=80)


def test_secret_files_without_an_owner_are_rejected():
    with pytest.raises(ValueError, match="need secrets_owner"):
        ContainerSpec(service="svc", image="i", healthcheck=CHECK, secret_files={"k": "v"})


def test_a_world_readable_secret_mode_is_rejected():
    from components.service import FileOwner

    with pytest.raises(ValueError, match="0400 or 0440"):
        FileOwner(uid=1, mode="0644")


def test_two_containers_with_one_service_name_are_refused_with_a_clear_error():
    def build(ctx: StackContext) -> dict:
        declare_container(ContainerSpec(service="svc", image="i", healthcheck=CHECK), ctx)
        declare_container(ContainerSpec(service="svc", image="j", healthcheck=CHECK), ctx)
        return {}

    with pytest.raises(ValueError, match="two containers named 'svc' in stack 'dev'.*different name"):
        declare_component(build)
