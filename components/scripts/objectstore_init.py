"""Make the object store match the stack, on every deploy (Garage admin API v2; Python standard library only).

    python objectstore_init.py --admin-url http://objectstore:3903 --token-file /run/secrets/objectstore-admin-token \\
        --bucket mlflow-artifacts --key-name mlflow --key-id-file ... --key-secret-file ... --capacity-gb 100

Each step reads what is there first, so a second run changes nothing:
1. the single node gets its role in the cluster layout (Garage stores nothing until it has one);
2. the bucket exists (created under its global alias);
3. the access key has the generated id and secret (imported: Garage keeps the values Pulumi generated), and any
   older key of the same name (a rotated one) is deleted;
4. the key may read and write that bucket and nothing else (no owner rights, no other bucket, no bucket creation).

Secrets are read from files, never from arguments or the environment, and never printed.
Exits non-zero with the step that failed, which fails the deploy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ZONE = "dc1"
READ_WRITE = {"read": True, "write": True, "owner": False}
#: DenyBucketKey removes the rights flagged true (and leaves the others as they are).
ALL_RIGHTS = {"read": True, "write": True, "owner": True}
#: Endpoints that are POSTs without a body (their argument is in the query).
POST_WITHOUT_BODY = {"DeleteKey"}


class InitError(RuntimeError):
    pass


class Admin:
    """A client of Garage's admin API v2 (bearer token)."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0):
        self.url, self.token, self.timeout_s = url.rstrip("/"), token, timeout_s

    def call(self, endpoint: str, body: Any = None, **query: str) -> tuple[int, Any]:
        url = f"{self.url}/v2/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        method = "POST" if body is not None or endpoint in POST_WITHOUT_BODY else "GET"
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw.strip() else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"message": raw.decode(errors="replace")[:300]}
            return error.code, payload

    def ok(self, endpoint: str, body: Any = None, **query: str) -> Any:
        status, payload = self.call(endpoint, body, **query)
        if status != 200:
            raise InitError(f"{endpoint}: HTTP {status}: {_message(payload)}")
        return payload


def _message(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("code") or payload)[:300]
    return str(payload)[:300]


def read_secret(path: str) -> str:
    value = Path(path).read_text().strip()
    if not value:
        raise InitError(f"{path} is empty")
    return value


def wait_for_admin(admin: Admin, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, payload = admin.call("GetClusterStatus")
            if status == 200:
                return dict(payload)
            if status in (401, 403):
                raise InitError(f"the admin token was refused (HTTP {status})")
            last = f"HTTP {status}: {_message(payload)}"
        except (urllib.error.URLError, OSError) as error:
            last = str(error)
        time.sleep(1)
    raise InitError(f"the admin API did not answer within {timeout_s:.0f} s ({last})")


def ensure_layout(admin: Admin, status: dict[str, Any], capacity_bytes: int) -> str:
    nodes = status.get("nodes") or []
    if len(nodes) != 1:
        raise InitError(f"expected a single-node store, found {len(nodes)} node(s)")
    node = nodes[0]["id"]
    layout = admin.ok("GetClusterLayout")
    if any(role.get("id") == node for role in layout.get("roles") or []):
        return "unchanged"
    admin.ok("UpdateClusterLayout", {"roles": [{"id": node, "zone": ZONE, "capacity": capacity_bytes, "tags": []}]})
    version = int(layout.get("version", 0)) + 1
    admin.ok("ApplyClusterLayout", {"version": version})
    return f"node {node[:16]} assigned, layout version {version}"


def wait_for_health(admin: Admin, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    health: Any = None
    while time.monotonic() < deadline:
        status, health = admin.call("GetClusterHealth")
        if status == 200 and health.get("status") == "healthy":
            return
        time.sleep(1)
    raise InitError(f"the store did not report healthy within {timeout_s:.0f} s (last: {_message(health)})")


def ensure_bucket(admin: Admin, bucket: str) -> tuple[str, str]:
    status, info = admin.call("GetBucketInfo", globalAlias=bucket)
    if status == 200:
        return str(info["id"]), "exists"
    if status != 404:
        raise InitError(f"GetBucketInfo {bucket}: HTTP {status}: {_message(info)}")
    created = admin.ok("CreateBucket", {"globalAlias": bucket})
    return str(created["id"]), "created"


def ensure_key(admin: Admin, name: str, key_id: str, secret: str) -> str:
    changes = []
    status, info = admin.call("GetKeyInfo", id=key_id, showSecretKey="true")
    if status == 404:
        admin.ok("ImportKey", {"accessKeyId": key_id, "secretAccessKey": secret, "name": name})
        changes.append("imported")
    elif status != 200:
        raise InitError(f"GetKeyInfo: HTTP {status}: {_message(info)}")
    elif info.get("secretAccessKey") != secret:
        # Garage keys are immutable: a key id the store knows with another secret cannot be repaired in place.
        raise InitError(f"key {key_id} exists with a different secret; delete it (garage key delete) and redeploy")
    for key in admin.ok("ListKeys") or []:
        if key.get("name") == name and key.get("id") != key_id:
            admin.ok("DeleteKey", id=str(key["id"]))
            changes.append(f"old key {key['id']} deleted")
    return ", ".join(changes) or "unchanged"


def ensure_grants(admin: Admin, key_id: str, bucket_id: str) -> str:
    info = admin.ok("GetKeyInfo", id=key_id)
    changes = []
    for grant in info.get("buckets") or []:
        if grant.get("id") != bucket_id:
            admin.ok("DenyBucketKey", {"bucketId": grant["id"], "accessKeyId": key_id, "permissions": ALL_RIGHTS})
            changes.append(f"rights on bucket {str(grant['id'])[:16]} removed")
    current = next((g.get("permissions") or {} for g in info.get("buckets") or [] if g.get("id") == bucket_id), {})
    if current.get("owner"):
        admin.ok("DenyBucketKey", {"bucketId": bucket_id, "accessKeyId": key_id,
                                   "permissions": {"read": False, "write": False, "owner": True}})
        changes.append("owner right removed")
    if not (current.get("read") and current.get("write")):
        admin.ok("AllowBucketKey", {"bucketId": bucket_id, "accessKeyId": key_id, "permissions": READ_WRITE})
        changes.append("read and write granted")
    if (info.get("permissions") or {}).get("createBucket"):
        admin.ok("UpdateKey", {"deny": {"createBucket": True}}, id=key_id)
        changes.append("bucket creation denied")
    return ", ".join(changes) or "unchanged"


def run(args: argparse.Namespace) -> None:
    admin = Admin(args.admin_url, read_secret(args.token_file))
    key_id, secret = read_secret(args.key_id_file), read_secret(args.key_secret_file)
    status = wait_for_admin(admin, args.timeout_s)
    print(f"objectstore-init: layout: {ensure_layout(admin, status, args.capacity_gb * 10**9)}", flush=True)
    wait_for_health(admin, args.timeout_s)
    bucket_id, bucket_state = ensure_bucket(admin, args.bucket)
    print(f"objectstore-init: bucket {args.bucket}: {bucket_state}", flush=True)
    print(f"objectstore-init: key {args.key_name} ({key_id}): {ensure_key(admin, args.key_name, key_id, secret)}",
          flush=True)
    print(f"objectstore-init: key {args.key_name} on {args.bucket}: {ensure_grants(admin, key_id, bucket_id)}",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key-name", required=True)
    parser.add_argument("--key-id-file", required=True)
    parser.add_argument("--key-secret-file", required=True)
    parser.add_argument("--capacity-gb", type=int, default=100)
    parser.add_argument("--timeout-s", type=float, default=120)
    args = parser.parse_args(argv)
    try:
        run(args)
    except (InitError, OSError) as error:
        print(f"objectstore-init: FAILED: {error}", file=sys.stderr)
        return 1
    print("objectstore-init: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
