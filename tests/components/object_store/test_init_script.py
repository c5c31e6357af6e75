"""components/scripts/objectstore_init.py against the e2e stand-in's Garage admin API (moto's S3 behind it).

The stand-in (e2e/standins/garage/garage.py) emulates the admin API v2 calls the script makes and enforces
the grants through moto's IAM, so these runs prove what the script leaves behind: the layout, the bucket,
a key that works on its bucket and nowhere else, a rotated key deleted, a run that changes nothing twice.
"""

from __future__ import annotations

import importlib.util
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from testing.net import free_port
from testing.program import REPO_ROOT

SCRIPT = REPO_ROOT / "components" / "scripts" / "objectstore_init.py"
STANDIN = REPO_ROOT / "e2e" / "standins" / "garage" / "garage.py"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


init = _load(SCRIPT, "objectstore_init")
garage = _load(STANDIN, "garage_standin")


@dataclass
class Store:
    admin_url: str
    s3_url: str
    token_file: Path
    state: object
    volume: Path
    """The stand-in's /var/lib/garage."""

    def s3(self, key_id: str, secret: str):
        return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1", aws_access_key_id=key_id,
                            aws_secret_access_key=secret,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    from moto import settings
    from moto.server import ThreadedMotoServer

    volume = tmp_path_factory.mktemp("volume")
    token_file = tmp_path_factory.mktemp("store") / "token"
    token = secrets.token_hex(32)
    token_file.write_text(token)
    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # as the stand-in runs: IAM enforced from the first request
    s3_port, admin_port = free_port(), free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    state = garage.Store("us-east-1", volume / "meta", volume / "data")
    admin = ThreadingHTTPServer(("127.0.0.1", admin_port), garage.admin_handler(state, token))
    threading.Thread(target=admin.serve_forever, daemon=True).start()
    try:
        yield Store(f"http://127.0.0.1:{admin_port}", f"http://127.0.0.1:{s3_port}", token_file, state, volume)
    finally:
        admin.shutdown()
        moto.stop()
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


def _key(tmp_path: Path, name: str) -> tuple[Path, Path, str, str]:
    key_id, secret = "GK" + secrets.token_hex(12), secrets.token_hex(32)
    id_file, secret_file = tmp_path / f"{name}-id", tmp_path / f"{name}-secret"
    id_file.write_text(key_id + "\n")
    secret_file.write_text(secret)
    return id_file, secret_file, key_id, secret


def _run(store: Store, bucket: str, key_name: str, id_file: Path, secret_file: Path,
         token_file: Path | None = None) -> int:
    return init.main(["--admin-url", store.admin_url, "--token-file", str(token_file or store.token_file),
                      "--bucket", bucket, "--key-name", key_name, "--key-id-file", str(id_file),
                      "--key-secret-file", str(secret_file), "--timeout-s", "10"])


def test_the_key_may_read_and_write_its_bucket(store: Store, tmp_path: Path):
    id_file, secret_file, key_id, secret = _key(tmp_path, "rw")
    assert _run(store, "rw-bucket", "rw", id_file, secret_file) == 0
    s3 = store.s3(key_id, secret)
    s3.put_object(Bucket="rw-bucket", Key="1/run/artifacts/model/MLmodel", Body=b"flavors: {}")
    assert s3.get_object(Bucket="rw-bucket", Key="1/run/artifacts/model/MLmodel")["Body"].read() == b"flavors: {}"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="rw-bucket")["Contents"]] == ["1/run/artifacts/model/MLmodel"]
    s3.delete_object(Bucket="rw-bucket", Key="1/run/artifacts/model/MLmodel")


def test_the_key_can_do_nothing_beyond_its_bucket(store: Store, tmp_path: Path):
    id_file, secret_file, key_id, secret = _key(tmp_path, "limited")
    assert _run(store, "limited-bucket", "limited", id_file, secret_file) == 0
    other_id, other_secret, _, _ = _key(tmp_path, "other")
    assert _run(store, "other-bucket", "other", other_id, other_secret) == 0
    s3 = store.s3(key_id, secret)
    for attempt in (lambda: s3.put_object(Bucket="other-bucket", Key="x", Body=b"x"),
                    lambda: s3.create_bucket(Bucket="new-bucket"), lambda: s3.list_buckets()):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_second_run_changes_nothing(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    id_file, secret_file, _, _ = _key(tmp_path, "again")
    assert _run(store, "again-bucket", "again", id_file, secret_file) == 0
    capsys.readouterr()
    assert _run(store, "again-bucket", "again", id_file, secret_file) == 0
    out = capsys.readouterr().out
    assert "layout: unchanged" in out and "bucket again-bucket: exists" in out
    assert "): unchanged" in out and "on again-bucket: unchanged" in out


def test_the_layout_gives_the_single_node_a_role_once(store: Store, tmp_path: Path):
    id_file, secret_file, _, _ = _key(tmp_path, "layout")
    assert _run(store, "layout-bucket", "layout", id_file, secret_file) == 0
    state = store.state
    assert [role["id"] for role in state.roles] == [state.node_id] and state.layout_version == 1  # type: ignore[attr-defined]


def test_a_rotated_key_replaces_the_old_one(store: Store, tmp_path: Path):
    old_id, old_secret, old_key, old_value = _key(tmp_path, "old")
    assert _run(store, "rotated-bucket", "rotated", old_id, old_secret) == 0
    new_id, new_secret, new_key, new_value = _key(tmp_path, "new")
    assert _run(store, "rotated-bucket", "rotated", new_id, new_secret) == 0
    store.s3(new_key, new_value).put_object(Bucket="rotated-bucket", Key="x", Body=b"x")
    with pytest.raises(ClientError) as refused:
        store.s3(old_key, old_value).put_object(Bucket="rotated-bucket", Key="x", Body=b"x")
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_excess_rights_are_taken_back(store: Store, tmp_path: Path):
    id_file, secret_file, key_id, _ = _key(tmp_path, "excess")
    assert _run(store, "excess-bucket", "excess", id_file, secret_file) == 0
    other_id, other_secret, _, _ = _key(tmp_path, "excess-other")
    assert _run(store, "excess-other-bucket", "excess-other", other_id, other_secret) == 0
    admin = init.Admin(store.admin_url, store.token_file.read_text())
    other_bucket = admin.ok("GetBucketInfo", globalAlias="excess-other-bucket")["id"]
    own_bucket = admin.ok("GetBucketInfo", globalAlias="excess-bucket")["id"]
    admin.ok("AllowBucketKey", {"bucketId": other_bucket, "accessKeyId": key_id, "permissions": init.ALL_RIGHTS})
    admin.ok("AllowBucketKey", {"bucketId": own_bucket, "accessKeyId": key_id, "permissions": init.ALL_RIGHTS})
    assert _run(store, "excess-bucket", "excess", id_file, secret_file) == 0
    grants = {g["id"]: g["permissions"] for g in admin.ok("GetKeyInfo", id=key_id)["buckets"]}
    assert grants[own_bucket] == {"read": True, "write": True, "owner": False}
    assert not any(grants.get(other_bucket, {}).values())


def test_a_wrong_admin_token_fails_the_job(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    id_file, secret_file, _, _ = _key(tmp_path, "denied")
    wrong = tmp_path / "wrong-token"
    wrong.write_text(secrets.token_hex(32))
    assert _run(store, "denied-bucket", "denied", id_file, secret_file, token_file=wrong) == 1
    assert "the admin token was refused" in capsys.readouterr().err


def test_an_unreachable_store_fails_the_job_in_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    id_file, secret_file, _, _ = _key(tmp_path, "gone")
    token = tmp_path / "token"
    token.write_text("x" * 64)
    code = init.main(["--admin-url", f"http://127.0.0.1:{free_port()}", "--token-file", str(token),
                      "--bucket", "gone", "--key-name", "gone", "--key-id-file", str(id_file),
                      "--key-secret-file", str(secret_file), "--timeout-s", "2"])
    assert code == 1 and "did not answer within 2 s" in capsys.readouterr().err


def test_secrets_are_never_printed(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    id_file, secret_file, _, secret = _key(tmp_path, "quiet")
    assert _run(store, "quiet-bucket", "quiet", id_file, secret_file) == 0
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    assert store.token_file.read_text() not in captured.out + captured.err


def test_the_stand_in_keeps_its_state_and_objects_on_its_volume_across_a_restart(store: Store, tmp_path: Path):
    """Last in this file: it empties moto's memory, as a restart of the stand-in's container does."""
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    id_file, secret_file, key_id, secret = _key(tmp_path, "kept")
    assert _run(store, "kept-bucket", "kept", id_file, secret_file) == 0
    s3 = store.s3(key_id, secret)
    s3.put_object(Bucket="kept-bucket", Key="1/run/artifacts/model.pkl", Body=b"weights")
    s3.put_object(Bucket="kept-bucket", Key="1/run/artifacts/deleted.txt", Body=b"gone")
    s3.delete_object(Bucket="kept-bucket", Key="1/run/artifacts/deleted.txt")
    s3_backends[garage.ACCOUNT_ID]["aws"].reset()
    iam_backends[garage.ACCOUNT_ID]["aws"].reset()
    with pytest.raises(ClientError):
        s3.get_object(Bucket="kept-bucket", Key="1/run/artifacts/model.pkl")

    restarted = garage.Store("us-east-1", store.volume / "meta", store.volume / "data")
    assert restarted.node_id == store.state.node_id and restarted.healthy()  # type: ignore[attr-defined]
    listed = s3.list_objects_v2(Bucket="kept-bucket")["Contents"]
    assert [o["Key"] for o in listed] == ["1/run/artifacts/model.pkl"]
    assert s3.get_object(Bucket="kept-bucket", Key="1/run/artifacts/model.pkl")["Body"].read() == b"weights"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="rw-bucket", Key="x", Body=b"x")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"  # the grants came back too
