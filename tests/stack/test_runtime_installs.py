"""Nothing is installed when a container starts: images are pinned or built from the repo."""

from __future__ import annotations

from testing.program import ProgramRun


def test_no_container_installs_packages_at_start(stack: ProgramRun):
    for name, c in stack.containers().items():
        command = " ".join([*c.inputs.get("command", []), *c.inputs.get("entrypoints", [])])
        assert "pip install" not in command and "apt-get" not in command, name
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in c.env(), name


def test_every_pulled_image_is_pinned(stack: ProgramRun):
    for image in stack.of_type("RemoteImage"):
        if "build" not in image.inputs:
            tag = image.inputs["name"].rpartition(":")[2]
            assert tag and tag != "latest", image.name


def test_every_built_image_is_tagged_by_its_content_and_kept_locally(stack: ProgramRun):
    built = [i for i in stack.of_type("RemoteImage") if "build" in i.inputs]
    assert built
    for image in built:
        tag = image.inputs["name"].rpartition(":")[2]
        assert image.inputs["triggers"] == {"content": tag} and image.inputs["keepLocally"] is True, image.name
