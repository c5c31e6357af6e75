"""Uploads are written as the provider writes them: one file, its mode, numeric owner and group."""

from __future__ import annotations

import io
import tarfile

import pytest

from testing.realiser import RealiseError, upload_tar


def _member(upload: dict) -> tuple[tarfile.TarInfo, bytes]:
    with tarfile.open(fileobj=io.BytesIO(upload_tar(upload))) as tar:
        [info] = tar.getmembers()
        data = tar.extractfile(info).read()  # type: ignore[union-attr]
    return info, data


def test_a_plain_upload_is_0644_root_owned():
    info, data = _member({"file": "/etc/app.conf", "content": "x=1"})
    assert (info.name, info.mode, info.uid, info.gid, data) == ("etc/app.conf", 0o644, 0, 0, b"x=1")


def test_an_executable_upload_is_0744():
    assert _member({"file": "/run.sh", "content": "", "executable": True})[0].mode == 0o744


def test_permissions_win_over_executable():
    assert _member({"file": "/s", "content": "", "executable": True, "permissions": "0400"})[0].mode == 0o400


def test_owner_and_group_are_numeric_ids():
    info, _ = _member({"file": "/s", "content": "", "owner": "999", "group": "0"})
    assert (info.uid, info.gid) == (999, 0)


def test_an_owner_name_is_refused_because_the_provider_resolves_it_on_the_host():
    with pytest.raises(RealiseError, match="numeric id"):
        upload_tar({"file": "/s", "content": "", "owner": "postgres"})
