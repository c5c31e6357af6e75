"""Copy the artifacts of a volume-backed MLflow server into its S3 bucket, 1:1 (docs/object-store.md).

    python sync_artifacts.py /mlartifacts s3://mlflow-artifacts/artifacts

MLflow records proxied artifacts as ``mlflow-artifacts:/<experiment>/<run>/artifacts/...``,
relative to the server's ``--artifacts-destination``; copying the tree under the new
destination keeps every recorded URI valid (no database change). Idempotent: an object
already there with the same size is skipped, so it can run again after a last copy.
The store and key come from the environment MLflow's server uses:
MLFLOW_S3_ENDPOINT_URL, AWS_SHARED_CREDENTIALS_FILE, AWS_DEFAULT_REGION.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse


def s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None,
                        config=Config(s3={"addressing_style": "path"}))


def sync(source: Path, destination: str, client=None) -> dict[str, int]:
    parsed = urlparse(destination)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise SystemExit(f"destination must be s3://bucket[/prefix], got {destination}")
    if not source.is_dir():
        raise SystemExit(f"{source} is not a directory")
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    client = client or s3_client()
    counts = {"copied": 0, "skipped": 0}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = "/".join(filter(None, [prefix, path.relative_to(source).as_posix()]))
        try:
            if client.head_object(Bucket=bucket, Key=key)["ContentLength"] == path.stat().st_size:
                counts["skipped"] += 1
                continue
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        client.upload_file(str(path), bucket, key)
        counts["copied"] += 1
    return counts


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    counts = sync(Path(argv[0]), argv[1])
    print(f"sync-artifacts: {counts['copied']} copied, {counts['skipped']} already there")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
