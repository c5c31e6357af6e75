"""Every declared Docker resource's inputs fit pulumi-docker's schema (names, types, required, nested, enums)."""

from __future__ import annotations

from testing.program import ProgramRun
from testing.schema import provider_schema


def _docker_resources(run: ProgramRun) -> list:
    return [r for r in run.resources if r.typ.startswith("docker:")]


def test_every_docker_input_fits_the_provider_schema(stack: ProgramRun):
    schema = provider_schema()
    problems = [p for r in _docker_resources(stack) for p in schema.violations(r)]
    assert not problems, "\n".join(problems)


def test_every_docker_input_fits_the_provider_schema_in_a_preview(preview: ProgramRun):
    schema = provider_schema()
    problems = [p for r in _docker_resources(preview) for p in schema.violations(r)]
    assert not problems, "\n".join(problems)


def test_the_check_covers_containers_volumes_images_and_the_network(stack: ProgramRun):
    kinds = {r.short_type for r in _docker_resources(stack)}
    assert kinds == {"Container", "Volume", "RemoteImage", "Network"}
