"""The tracking server's repository for ``s3://`` artifacts: S3 behind the server, never around it.

MLflow 3.17's server advertises multipart (presigned-URL) transfers whenever its
``--artifacts-destination`` repository can make presigned URLs, and its clients then
fetch every artifact straight from the store at the server's endpoint URL (e.g.
``http://objectstore:3900``): a host that Airflow's workers, the model server, the app
and every laptop would have to reach, with requests signed by the server's key. This
repository stores and reads through the same ``S3ArtifactRepository`` but is not a
multipart or presigned one, so the server advertises neither and every client keeps
uploading and downloading through ``--serve-artifacts``: no client needs the store,
its address or a key. Registered for the ``s3`` scheme through the entry point of this
distribution (the image's ``mlplatform_artifacts-1.0.dist-info``).
"""

from __future__ import annotations

from typing import Any

from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository


class ProxiedS3ArtifactRepository(ArtifactRepository):
    """``S3ArtifactRepository`` without its multipart and presigned-URL capabilities."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(artifact_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)
        self._s3 = S3ArtifactRepository(artifact_uri, tracking_uri=tracking_uri, registry_uri=registry_uri,
                                        **kwargs)

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        self._s3.log_artifact(local_file, artifact_path)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        self._s3.log_artifacts(local_dir, artifact_path)

    def list_artifacts(self, path: str | None = None) -> list[Any]:
        return self._s3.list_artifacts(path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        self._s3._download_file(remote_file_path, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        self._s3.delete_artifacts(artifact_path)
