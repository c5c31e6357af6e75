"""`pulumi preview` of a new stack: computed values are unknown, and nothing fails where `pulumi up` would succeed."""

from __future__ import annotations

from testing.mocks import is_unknown
from testing.program import ProgramRun


def test_preview_declares_the_same_resources_as_up(preview: ProgramRun, stack: ProgramRun):
    assert sorted((r.typ, r.name) for r in preview.resources) == sorted((r.typ, r.name) for r in stack.resources)


def test_generated_secrets_and_image_ids_are_unknown_in_a_preview(preview: ProgramRun):
    assert preview.mocks.generated_secrets == []
    for container in preview.of_type("Container"):
        assert is_unknown(container.inputs["image"]), container.name


def test_deploy_checks_stay_unknown_instead_of_failing(preview: ProgramRun):
    checks = preview.exports["checks"]
    assert not checks.known


def test_endpoints_are_known_before_anything_exists(preview: ProgramRun):
    endpoints = preview.exports["endpoints"]
    assert endpoints.known and endpoints.value["mlflow"]["url"].startswith("http://")


def test_credentials_stay_secret_in_a_preview(preview: ProgramRun):
    assert preview.exports["credentials"].secret
