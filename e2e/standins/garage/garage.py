#!/opt/standin/bin/python
"""STAND-IN for Garage's `/garage` binary (dxflrs/garage), for the e2e only: moto's S3 behind Garage's interface.

No Garage image can be pulled on the project's machines. This speaks what the platform
uses of Garage, so the platform's own config, health check and init job run unchanged:

- ``/garage server``: reads ``/etc/garage.toml`` (``rpc_secret_file``, ``[s3_api]``
  ``api_bind_addr`` and ``s3_region``, ``[admin]`` ``api_bind_addr``, ``admin_token_file``,
  ``metrics_token_file``); refuses secret files others can read, as Garage does; serves the
  S3 API with moto (IAM enforced from the first request: only imported keys, only on the
  buckets they were granted) and the subset of Garage's admin API v2 the init job calls;
- ``/garage status``: 0 when the local node answers (Garage asks over RPC; this asks its
  admin API with the token from the config).

State lives on the volume, as Garage's does: the node id, layout, buckets, keys and grants in
``<metadata_dir>/standin-state.json`` after every admin change, each object in
``<data_dir>/objects/<bucket>/`` as it is written or deleted (write to a temporary file, then rename:
a copy of the paused volume is consistent), all loaded back into moto at start.

Differences from Garage (e2e/README.md): objects keep their bytes, not their content type or
user metadata; per-bucket rights become moto IAM user policies
(read: Get/List/Head, write: Put/Delete/multipart); presigned URLs fail under moto's
auth; S3 requests are not refused before the layout is applied; no RPC, web or K2V API;
only the admin endpoints listed in ADMIN_ENDPOINTS.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import sys
import threading
import tomllib
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

CONFIG_PATH = Path(os.environ.get("GARAGE_CONFIG_FILE", "/etc/garage.toml"))
ACCOUNT_ID = "123456789012"  # moto's default account
READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketMultipartUploads",
                "s3:GetBucketLocation", "s3:ListMultipartUploadParts"]
WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


def _bind(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    return ("0.0.0.0" if host in ("::", "") else host), int(port)


def _secret(section: dict[str, Any], key: str, allow_world_readable: bool) -> str | None:
    if key in section:
        return str(section[key]).strip()
    path = section.get(f"{key}_file")
    if path is None:
        return None
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and not allow_world_readable:
        raise SystemExit(f"File {path} is world-readable! (mode: 0{mode & 0o777:o}, expected 0600)")
    return Path(path).read_text().strip()


def load_config() -> dict[str, Any]:
    config = tomllib.loads(CONFIG_PATH.read_text())
    allow = bool(config.get("allow_world_readable_secrets", False))
    rpc = _secret(config, "rpc_secret", allow)
    if not rpc or len(rpc) != 64:
        raise SystemExit("rpc_secret must be 32 bytes hex-encoded")
    admin = config.get("admin", {})
    return {
        "metadata_dir": Path(config["metadata_dir"]),
        "data_dir": Path(config["data_dir"]),
        "s3": _bind(config["s3_api"]["api_bind_addr"]),
        "region": config["s3_api"].get("s3_region", "garage"),
        "admin": _bind(admin["api_bind_addr"]),
        "admin_token": _secret(admin, "admin_token", allow),
        "metrics_token": _secret(admin, "metrics_token", allow),
    }


def _write_atomically(path: Path, data: bytes) -> None:
    """Write then rename: a reader (or a copy of the paused volume) sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


class Store:
    """The admin state Garage keeps (layout, buckets, keys, grants) mapped onto moto's S3 and IAM backends,
    persisted on the volume as it changes."""

    def __init__(self, region: str, metadata_dir: Path, data_dir: Path):
        from moto.iam.models import iam_backends
        from moto.s3.models import s3_backends

        self.region = region
        self.iam = iam_backends[ACCOUNT_ID]["aws"]
        self.s3 = s3_backends[ACCOUNT_ID]["aws"]
        self.state_file = metadata_dir / "standin-state.json"
        self.objects_dir = data_dir / "objects"
        self.node_id = secrets.token_hex(32)
        self.layout_version = 0
        self.roles: list[dict[str, Any]] = []
        self.staged: list[dict[str, Any]] = []
        self.buckets: dict[str, dict[str, Any]] = {}  # id -> {alias, created}
        self.keys: dict[str, dict[str, Any]] = {}  # id -> {name, secret, created, deleted}
        self.grants: dict[tuple[str, str], dict[str, bool]] = {}  # (key, bucket) -> perms
        self.lock = threading.Lock()
        self.load()
        self._write_through()

    # -- persistence --------------------------------------------------------------------------
    def _object_path(self, bucket: str, key: str) -> Path:
        return self.objects_dir / bucket / quote(key, safe="")

    def save(self) -> None:
        state = {"node_id": self.node_id, "layout_version": self.layout_version, "roles": self.roles,
                 "staged": self.staged, "buckets": self.buckets, "keys": self.keys,
                 "grants": [{"key": k, "bucket": b, "permissions": p} for (k, b), p in self.grants.items()]}
        _write_atomically(self.state_file, json.dumps(state, indent=1).encode())

    def load(self) -> None:
        """What the volume holds back into moto: buckets, keys with their grants, then every object."""
        if not self.state_file.exists():
            return
        state = json.loads(self.state_file.read_text())
        self.node_id, self.layout_version = state["node_id"], state["layout_version"]
        self.roles, self.staged, self.buckets = state["roles"], state["staged"], state["buckets"]
        self.keys = state["keys"]
        self.grants = {(g["key"], g["bucket"]): g["permissions"] for g in state["grants"]}
        for info in self.buckets.values():
            self.s3.create_bucket(info["alias"], self.region)
        for key_id, key in self.keys.items():
            if not key["deleted"]:
                self._create_iam_key(key_id, key["secret"], key["user"])
                self.sync_policy(key_id)
        objects = 0
        for info in self.buckets.values():
            folder = self.objects_dir / info["alias"]
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                if not path.name.startswith("."):
                    self.s3.put_object(info["alias"], unquote(path.name), path.read_bytes())
                    objects += 1
        print(f"garage stand-in: loaded layout v{self.layout_version}, {len(self.buckets)} bucket(s), "
              f"{objects} object(s) from the volume", flush=True)

    def _write_through(self) -> None:
        """Every object moto stores or deletes (single or multipart uploads, copies, deletes) goes to the volume."""
        put_object, delete_object = self.s3.put_object, self.s3.delete_object

        def put(bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
            stored = put_object(bucket_name, key_name, value, *args, **kwargs)
            _write_atomically(self._object_path(bucket_name, key_name), stored.value)
            return stored

        def delete(bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
            result = delete_object(bucket_name, key_name, *args, **kwargs)
            self._object_path(bucket_name, key_name).unlink(missing_ok=True)
            return result

        self.s3.put_object, self.s3.delete_object = put, delete

    # -- helpers ------------------------------------------------------------------------------
    def bucket_by_alias(self, alias: str) -> str | None:
        return next((b for b, info in self.buckets.items() if info["alias"] == alias), None)

    def bucket_info(self, bucket_id: str) -> dict[str, Any]:
        info = self.buckets[bucket_id]
        objects = list(self.s3.buckets[info["alias"]].keys.values()) if info["alias"] in self.s3.buckets else []
        return {
            "id": bucket_id, "created": info["created"], "globalAliases": [info["alias"]],
            "websiteAccess": False, "websiteConfig": None,
            "keys": [{"accessKeyId": k, "name": self.keys[k]["name"], "permissions": p, "bucketLocalAliases": []}
                     for (k, b), p in self.grants.items() if b == bucket_id and not self.keys[k]["deleted"]],
            "objects": len(objects), "bytes": sum(getattr(o, "size", 0) for o in objects),
            "unfinishedUploads": 0, "unfinishedMultipartUploads": 0, "unfinishedMultipartUploadParts": 0,
            "unfinishedMultipartUploadBytes": 0, "quotas": {"maxSize": None, "maxObjects": None},
        }

    def key_info(self, key_id: str, show_secret: bool) -> dict[str, Any]:
        key = self.keys[key_id]
        return {
            "accessKeyId": key_id, "name": key["name"], "created": key["created"], "expiration": None,
            "expired": False, "secretAccessKey": key["secret"] if show_secret else None,
            "permissions": {"createBucket": False},
            "buckets": [{"id": b, "globalAliases": [self.buckets[b]["alias"]], "localAliases": [], "permissions": p}
                        for (k, b), p in self.grants.items() if k == key_id and b in self.buckets],
        }

    def sync_policy(self, key_id: str) -> None:
        """The key's grants as one IAM user policy (what moto enforces)."""
        statements = []
        for (k, b), perms in self.grants.items():
            if k != key_id:
                continue
            alias = self.buckets[b]["alias"]
            actions = (READ_ACTIONS if perms.get("read") else []) + (WRITE_ACTIONS if perms.get("write") else [])
            if actions:
                statements.append({"Effect": "Allow", "Action": actions,
                                   "Resource": [f"arn:aws:s3:::{alias}", f"arn:aws:s3:::{alias}/*"]})
        user = self.keys[key_id]["user"]
        if statements:
            self.iam.put_user_policy(user, "garage-grants", json.dumps({"Version": "2012-10-17",
                                                                         "Statement": statements}))
        elif "garage-grants" in self.iam.get_user(user).policies:
            self.iam.delete_user_policy(user, "garage-grants")

    # -- endpoints ----------------------------------------------------------------------------
    def healthy(self) -> bool:
        return self.layout_version > 0 and bool(self.roles)

    def handle(self, method: str, name: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        handler = ADMIN_ENDPOINTS.get((method, name))
        if handler is None:
            return 404, {"code": "NotFound", "message": f"stand-in: {method} /v2/{name} is not emulated"}
        with self.lock:
            try:
                status, payload = handler(self, query, body)
            except Exception as error:  # an emulation bug: answer, don't drop the connection
                return 500, {"code": "InternalError", "message": f"stand-in: {type(error).__name__}: {error}"}
            if method == "POST" and status < 300:
                self.save()
            return status, payload

    def get_cluster_status(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        role = next((r for r in self.roles if r["id"] == self.node_id), None)
        node = {"id": self.node_id, "isUp": True, "draining": False, "addr": "127.0.0.1:3901",
                "hostname": os.uname().nodename, "garageVersion": "v2.4.1 (mlplatform e2e stand-in)",
                "role": role, "lastSeenSecsAgo": None}
        return 200, {"layoutVersion": self.layout_version, "nodes": [node]}

    def get_cluster_health(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        ok = self.healthy()
        return 200, {"status": "healthy" if ok else "unavailable", "knownNodes": 1, "connectedNodes": 1,
                     "storageNodes": 1 if ok else 0, "storageNodesOk": 1 if ok else 0, "partitions": 256,
                     "partitionsQuorum": 256 if ok else 0, "partitionsAllOk": 256 if ok else 0}

    def get_cluster_layout(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, {"version": self.layout_version, "roles": self.roles, "stagedRoleChanges": self.staged,
                     "parameters": {"zoneRedundancy": "maximum"}, "partitionSize": 0}

    def update_cluster_layout(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        for change in body.get("roles") or []:
            if change.get("id") != self.node_id:
                return 400, {"code": "InvalidRequest", "message": f"unknown node {change.get('id')}"}
            self.staged = [c for c in self.staged if c["id"] != change["id"]] + [change]
        return self.get_cluster_layout(query, body)

    def apply_cluster_layout(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if int(body.get("version", -1)) != self.layout_version + 1:
            return 400, {"code": "InvalidRequest",
                         "message": f"Invalid new layout version: expected {self.layout_version + 1}"}
        for change in self.staged:
            self.roles = [r for r in self.roles if r["id"] != change["id"]]
            if not change.get("remove"):
                self.roles.append({k: change.get(k) for k in ("id", "zone", "capacity", "tags")})
        self.staged, self.layout_version = [], self.layout_version + 1
        return 200, {"message": ["New cluster layout with updated role assignment has been applied."],
                     "layout": self.get_cluster_layout(query, body)[1]}

    def get_bucket_info(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        bucket = query.get("id") or self.bucket_by_alias(query.get("globalAlias", ""))
        if bucket not in self.buckets:
            return 404, {"code": "NoSuchBucket", "message": "Bucket not found"}
        return 200, self.bucket_info(bucket)

    def create_bucket(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        alias = body.get("globalAlias")
        if not alias:
            return 400, {"code": "InvalidRequest", "message": "stand-in: only global aliases are emulated"}
        if self.bucket_by_alias(alias):
            return 409, {"code": "BucketAlreadyExists", "message": "Bucket already exists"}
        self.s3.create_bucket(alias, self.region)
        bucket_id = secrets.token_hex(32)
        self.buckets[bucket_id] = {"alias": alias, "created": _now()}
        return 200, self.bucket_info(bucket_id)

    def list_keys(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, [{"id": k, "name": v["name"], "created": v["created"], "expiration": None, "expired": False}
                     for k, v in self.keys.items() if not v["deleted"]]

    def get_key_info(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        key = query.get("id")
        if key not in self.keys or self.keys[key]["deleted"]:
            return 404, {"code": "NoSuchAccessKey", "message": f"Access key not found: {key}"}
        return 200, self.key_info(key, query.get("showSecretKey") == "true")

    def import_key(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        key_id, secret = body.get("accessKeyId", ""), body.get("secretAccessKey", "")
        if key_id in self.keys:  # Garage keeps deleted keys as tombstones: their ids cannot come back
            return 409, {"code": "KeyAlreadyExists", "message": f"Key {key_id} already exists in data store"}
        if len(key_id) != 26 or not key_id.startswith("GK") or not _hex(key_id[2:]) or len(secret) != 64 \
                or not _hex(secret):
            return 400, {"code": "InvalidRequest", "message": "Invalid key format"}
        user = f"garage-{key_id}"
        self._create_iam_key(key_id, secret, user)
        self.keys[key_id] = {"name": body.get("name") or "Imported key", "secret": secret, "created": _now(),
                             "deleted": False, "user": user}
        return 200, self.key_info(key_id, False)

    def _create_iam_key(self, key_id: str, secret: str, user: str) -> None:
        """A moto IAM user whose one access key has Garage's id and secret."""
        self.iam.create_user("us-east-1", user)
        access_key = self.iam.create_access_key(user)
        generated = access_key.physical_resource_id
        access_key.access_key_id, access_key.secret_access_key = key_id, secret
        self.iam.access_keys[access_key.physical_resource_id] = self.iam.access_keys.pop(generated)

    def delete_key(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        key_id = query.get("id", "")
        if key_id not in self.keys or self.keys[key_id]["deleted"]:
            return 404, {"code": "NoSuchAccessKey", "message": f"Access key not found: {key_id}"}
        user = self.keys[key_id]["user"]
        for grant in [g for g in self.grants if g[0] == key_id]:
            del self.grants[grant]
        for key in list(self.iam.get_user(user).access_keys):
            self.iam.delete_access_key(key.access_key_id, user)
        if "garage-grants" in self.iam.get_user(user).policies:
            self.iam.delete_user_policy(user, "garage-grants")
        self.keys[key_id]["deleted"] = True
        return 200, None

    def _perm_change(self, body: Any, allow: bool) -> tuple[int, Any]:
        key_id, bucket_id = body.get("accessKeyId"), body.get("bucketId")
        if key_id not in self.keys or self.keys[key_id]["deleted"]:
            return 404, {"code": "NoSuchAccessKey", "message": f"Access key not found: {key_id}"}
        if bucket_id not in self.buckets:
            return 404, {"code": "NoSuchBucket", "message": "Bucket not found"}
        perms = dict(self.grants.get((key_id, bucket_id), {"read": False, "write": False, "owner": False}))
        for flag, value in (body.get("permissions") or {}).items():
            if value:  # true flags change; false ones leave the right as it is (Garage's semantics)
                perms[flag] = allow
        self.grants[(key_id, bucket_id)] = perms
        self.sync_policy(key_id)
        return 200, self.bucket_info(bucket_id)

    def allow_bucket_key(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return self._perm_change(body, True)

    def deny_bucket_key(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return self._perm_change(body, False)


ADMIN_ENDPOINTS = {
    ("GET", "GetClusterStatus"): Store.get_cluster_status,
    ("GET", "GetClusterHealth"): Store.get_cluster_health,
    ("GET", "GetClusterLayout"): Store.get_cluster_layout,
    ("POST", "UpdateClusterLayout"): Store.update_cluster_layout,
    ("POST", "ApplyClusterLayout"): Store.apply_cluster_layout,
    ("GET", "GetBucketInfo"): Store.get_bucket_info,
    ("POST", "CreateBucket"): Store.create_bucket,
    ("GET", "ListKeys"): Store.list_keys,
    ("GET", "GetKeyInfo"): Store.get_key_info,
    ("POST", "ImportKey"): Store.import_key,
    ("POST", "DeleteKey"): Store.delete_key,
    ("POST", "AllowBucketKey"): Store.allow_bucket_key,
    ("POST", "DenyBucketKey"): Store.deny_bucket_key,
}


def _hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat()


def admin_handler(store: Store, token: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "garage-standin"

        def log_message(self, fmt: str, *args: Any) -> None:
            sys.stderr.write(f"admin: {self.command} {self.path.split('?')[0]} {args[1] if len(args) > 1 else ''}\n")

        def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, method: str) -> None:
            url = urlparse(self.path)
            if url.path == "/health":  # no token, as Garage
                ok = store.healthy()
                self._send(200 if ok else 503, "Garage is fully operational" if ok else "Layout not ready",
                           "text/plain")
                return
            if not token or self.headers.get("Authorization") != f"Bearer {token}":
                self._send(403, {"code": "AccessDenied", "message": "Forbidden: Invalid API key"})
                return
            if not url.path.startswith("/v2/"):
                self._send(404, {"code": "NotFound", "message": f"stand-in: {url.path} is not emulated"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                self._send(400, {"code": "InvalidRequest", "message": "invalid JSON body"})
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            status, payload = store.handle(method, url.path[len("/v2/"):], query, body)
            self._send(status, payload if payload is not None else {})

        def do_GET(self) -> None:  # noqa: N802
            self._dispatch("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch("POST")

    return Handler


def server() -> int:
    config = load_config()
    from moto import settings
    from moto.server import ThreadedMotoServer

    # IAM on from the first request: only imported keys, only on their buckets.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    store = Store(config["region"], config["metadata_dir"], config["data_dir"])
    s3_host, s3_port = config["s3"]
    ThreadedMotoServer(ip_address=s3_host, port=s3_port, verbose=False).start()
    admin = ThreadingHTTPServer(config["admin"], admin_handler(store, config["admin_token"]))
    print(f"garage stand-in (moto): S3 API on {s3_host}:{s3_port} (region {config['region']}), "
          f"admin API on {config['admin'][0]}:{config['admin'][1]}, node {store.node_id[:16]}", flush=True)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=admin.shutdown).start())
    admin.serve_forever()
    return 0


def status() -> int:
    config = load_config()
    host, port = config["admin"]
    local = "127.0.0.1" if host == "0.0.0.0" else host
    request = urllib.request.Request(f"http://{local}:{port}/v2/GetClusterStatus",
                                     headers={"Authorization": f"Bearer {config['admin_token']}"})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            nodes = json.loads(response.read())["nodes"]
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"Error: could not reach the local node ({error})", file=sys.stderr)
        return 1
    print("==== HEALTHY NODES ====")
    for node in nodes:
        role = "" if node.get("role") else "NO ROLE ASSIGNED"
        print(f"{node['id'][:16]}  {node['hostname']}  {node['addr']}  {role}")
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "server":
        return server()
    if command == "status":
        return status()
    print(f"garage stand-in: only `server` and `status` are emulated, not {' '.join(argv)!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
