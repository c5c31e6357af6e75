"""Every container of every stack: health-gated, restarted, on the stack network, run from an image id, labelled."""

from __future__ import annotations

from testing.program import ProgramRun


def _services(stack: ProgramRun) -> dict:
    return {name: c for name, c in stack.containers().items() if not c.inputs.get("attach")}


def _jobs(stack: ProgramRun) -> dict:
    return {name: c for name, c in stack.containers().items() if c.inputs.get("attach")}


def test_every_long_running_container_has_a_health_check(stack: ProgramRun):
    for name, c in _services(stack).items():
        assert c.inputs.get("healthcheck", {}).get("tests"), name


def test_every_long_running_container_restarts_unless_stopped(stack: ProgramRun):
    for name, c in _services(stack).items():
        assert c.inputs["restart"] == "unless-stopped", name


def test_the_deploy_waits_until_every_long_running_container_is_healthy(stack: ProgramRun):
    for name, c in _services(stack).items():
        assert c.inputs["wait"] is True and c.inputs["waitTimeout"] >= 30, name


def test_jobs_run_to_completion_and_are_never_restarted(stack: ProgramRun):
    assert _jobs(stack)
    for name, c in _jobs(stack).items():
        assert c.inputs["mustRun"] is False and c.inputs["restart"] == "no" and c.inputs["logs"] is True, name


def test_every_container_runs_an_image_by_its_id(stack: ProgramRun):
    image_ids = {r.outputs["imageId"] for r in stack.of_type("RemoteImage")}
    for name, c in stack.containers().items():
        assert c.inputs["image"] in image_ids, name


def test_every_container_is_labelled_with_its_stack_and_service(stack: ProgramRun):
    network = stack.of_type("Network")[0]
    stack_name = network.inputs["name"].removeprefix("mlplatform-")
    for name, c in stack.containers().items():
        assert c.labels()["org.mlplatform.stack"] == stack_name, name
        assert c.labels()["org.mlplatform.service"] == name


#: Containers kept off the stack network on purpose: the Docker API proxy, alone with Airbyte's worker.
CONFINED = {"airbyte-docker-proxy": "-airbyte-docker-api"}


def test_every_container_is_on_the_stack_network_under_its_service_name(stack: ProgramRun):
    network = stack.of_type("Network")[0]
    for name, c in stack.containers().items():
        first = c.inputs["networksAdvanced"][0]
        if name in CONFINED:
            assert first == {"name": network.inputs["name"] + CONFINED[name], "aliases": [name]}, name
            assert len(c.inputs["networksAdvanced"]) == 1, name
        else:
            assert first == {"name": network.inputs["name"], "aliases": [name]}, name


def test_container_names_are_unique(stack: ProgramRun):
    names = [c.inputs["name"] for c in stack.of_type("Container")]
    assert len(names) == len(set(names))


def test_every_data_volume_is_retained_when_deleted(stack: ProgramRun):
    for volume in stack.of_type("Volume"):
        assert volume.retain_on_delete, volume.name
