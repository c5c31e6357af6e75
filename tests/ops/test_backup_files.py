"""A backup's files: the secrets are encrypted with a passphrase, and restore refuses a file that changed."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import InvalidToken

from ops.backup import _sha256, decrypt, encrypt
from ops.restore import RestoreError, verify


def test_secrets_round_trip_with_the_passphrase_and_are_not_in_the_token():
    token, salt = encrypt(b'{"airflow": {"password": "s3cret-value"}}', b"correct horse")
    assert b"s3cret-value" not in token
    assert decrypt(token, salt, b"correct horse") == b'{"airflow": {"password": "s3cret-value"}}'


def test_a_wrong_passphrase_is_refused():
    token, salt = encrypt(b"{}", b"correct horse")
    with pytest.raises(InvalidToken):
        decrypt(token, salt, b"wrong horse")


def _backup(folder, files: dict[str, bytes]):
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {"files": {n: {"bytes": len(d), "sha256": _sha256(folder / n)} for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_verify_accepts_the_files_the_backup_wrote(tmp_path):
    _backup(tmp_path, {"mlflow.dump": b"dump", "roles.sql": b"CREATE ROLE x;"})
    assert set(verify(tmp_path)["files"]) == {"mlflow.dump", "roles.sql"}


@pytest.mark.parametrize("damage", ["changed", "missing"])
def test_verify_refuses_a_changed_or_missing_file_by_name(tmp_path, damage):
    _backup(tmp_path, {"mlflow.dump": b"dump", "roles.sql": b"CREATE ROLE x;"})
    if damage == "changed":
        (tmp_path / "mlflow.dump").write_bytes(b"dumq")
    else:
        (tmp_path / "mlflow.dump").unlink()
    with pytest.raises(RestoreError, match="mlflow.dump"):
        verify(tmp_path)
