"""Every file holding a generated secret is readable only by the user (or group) of the process that reads it."""

from __future__ import annotations

from testing.program import ProgramRun


def _secret_uploads(stack: ProgramRun):
    for name, c in stack.containers().items():
        for path, upload in c.uploads().items():
            if any(s in str(upload.get("content", "")) for s in stack.mocks.generated_secrets if s):
                yield name, c, path, upload


def test_stacks_have_secret_files(stack: ProgramRun):
    assert len(list(_secret_uploads(stack))) >= 10


def test_every_secret_file_is_0400_or_0440(stack: ProgramRun):
    for name, _, path, upload in _secret_uploads(stack):
        assert upload.get("permissions") in ("0400", "0440"), f"{name}: {path}"


def test_every_secret_file_has_a_numeric_owner_and_group(stack: ProgramRun):
    for name, _, path, upload in _secret_uploads(stack):
        assert str(upload.get("owner", "")).isdigit() and str(upload.get("group", "")).isdigit(), f"{name}: {path}"


def test_every_secret_file_is_sent_as_a_secret(stack: ProgramRun):
    for name, c, path, _ in _secret_uploads(stack):
        assert c.upload_is_secret(path), f"{name}: {path}"


def test_secret_files_of_a_container_with_a_user_belong_to_that_user(stack: ProgramRun):
    for name, c, path, upload in _secret_uploads(stack):
        user = c.inputs.get("user")
        if user:
            assert user.split(":")[0] == upload["owner"], f"{name}: {path} owned by {upload['owner']}, runs as {user}"
