"""Generated secrets are secret wherever they go: env, uploads, outputs; never RandomId/RandomString."""

from __future__ import annotations

from testing.program import ProgramRun


def _holds_secret(text: str, stack: ProgramRun) -> bool:
    return any(secret in text for secret in stack.mocks.generated_secrets)


def test_every_env_entry_holding_a_generated_secret_is_sent_as_a_secret(stack: ProgramRun):
    for name, c in stack.containers().items():
        for index, entry in enumerate(c.inputs.get("envs", [])):
            if _holds_secret(entry, stack):
                assert c.is_secret(f"envs[{index}]"), f"{name}: {entry.split('=')[0]} is not secret"


def test_every_upload_holding_a_generated_secret_is_sent_as_a_secret(stack: ProgramRun):
    for name, c in stack.containers().items():
        for path, upload in c.uploads().items():
            if _holds_secret(str(upload.get("content", "")), stack):
                assert c.upload_is_secret(path), f"{name}: {path} is not secret"


def test_generated_secrets_never_appear_on_a_command_line(stack: ProgramRun):
    for name, c in stack.containers().items():
        for part in [*c.inputs.get("command", []), *c.inputs.get("entrypoints", [])]:
            assert not _holds_secret(part, stack), name


def test_credentials_output_is_secret(stack: ProgramRun):
    assert stack.exports["credentials"].secret


def test_endpoints_output_holds_no_secret(stack: ProgramRun):
    endpoints = stack.exports["endpoints"]
    assert not endpoints.secret and not _holds_secret(str(endpoints.value), stack)


def test_no_random_id_or_string_is_used(stack: ProgramRun):
    types = {r.typ for r in stack.resources}
    assert not {"random:index/randomId:RandomId", "random:index/randomString:RandomString"} & types


def test_every_generated_password_is_its_own_resource(stack: ProgramRun):
    names = [r.name for r in stack.of_type("RandomPassword")]
    assert len(names) == len(set(names))
