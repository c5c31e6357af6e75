"""Images: pulled by pinned reference, or built from the repo with a content tag.

Both are RemoteImage resources so containers get ``image_id`` (the sha256):
passing a name or digest instead makes pulumi-docker replace containers on
every update. Built images are tagged with a hash of everything that goes into
them, so a changed Dockerfile, requirement or DAG means a new tag and a
rebuild, and an unchanged one means no work.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker

from config.versions import REPO_ROOT

#: Where an extra CA bundle is staged inside the build context (git-ignored).
CA_STAGING_DIR = REPO_ROOT / "images" / "ca"
CA_STAGED_FILE = CA_STAGING_DIR / "extra-ca.pem"


def _files_under(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
            )
        elif path.is_file():
            files.append(path)
    return files


def content_tag(paths: Sequence[Path], build_args: Mapping[str, str], root: Path = REPO_ROOT) -> str:
    """A short hash of the given files (names and bytes) and build arguments."""
    digest = hashlib.sha256()
    for file in _files_under(paths):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    for key in sorted(build_args):
        digest.update(f"{key}={build_args[key]}\0".encode())
    return digest.hexdigest()[:16]


def stage_ca_bundle(bundle: Path | None) -> None:
    """Copy the configured extra CA bundle into the build context, or remove a stale one."""
    CA_STAGING_DIR.mkdir(parents=True, exist_ok=True)
    if bundle is None:
        CA_STAGED_FILE.unlink(missing_ok=True)
    elif not CA_STAGED_FILE.exists() or CA_STAGED_FILE.read_bytes() != bundle.read_bytes():
        shutil.copyfile(bundle, CA_STAGED_FILE)


def built_image(
    resource_name: str,
    repository: str,
    dockerfile: str,
    inputs: Sequence[Path],
    build_args: Mapping[str, str],
    opts: pulumi.ResourceOptions | None = None,
    target: str | None = None,
) -> docker.RemoteImage:
    """Build ``dockerfile`` (relative to the repo root, which is the context) locally; never pushed.

    ``inputs`` are the files the build copies; only they (and the build
    arguments and target) decide the tag.
    """
    tag = content_tag([REPO_ROOT / dockerfile, *inputs, CA_STAGING_DIR], {**build_args, "target": target or ""})
    return docker.RemoteImage(
        resource_name,
        name=f"{repository}:{tag}",
        build=docker.RemoteImageBuildArgs(
            context=str(REPO_ROOT),
            dockerfile=dockerfile,
            build_args=dict(build_args),
            target=target,
            label={"org.mlplatform.content-tag": tag},
        ),
        keep_locally=True,
        triggers={"content": tag},
        opts=opts,
    )


def python_image(
    resource_name: str, folder: str, python_base: str, opts: pulumi.ResourceOptions | None = None
) -> docker.RemoteImage:
    """One of our Python services' images: ``images/<folder>`` on the pinned Python base, installed from the lock."""
    return built_image(
        resource_name,
        repository=f"mlplatform/{folder}",
        dockerfile=f"images/{folder}/Dockerfile",
        inputs=[REPO_ROOT / "images" / folder, REPO_ROOT / "constraints.txt"],
        build_args={"PYTHON_BASE": python_base},
        opts=opts,
    )


def pulled_image(resource_name: str, ref: str, opts: pulumi.ResourceOptions | None = None) -> docker.RemoteImage:
    """A pinned upstream image, kept on the host when the stack is destroyed."""
    return docker.RemoteImage(resource_name, name=ref, keep_locally=True, opts=opts)
