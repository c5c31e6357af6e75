#!/usr/bin/env python3
"""Make the base images the Pulumi program references exist on the local engine.

For each image ref the program uses (see STANDINS) this script first tries to
pull the real image. Where no registry is reachable (the project's dev/CI
machines), it builds a local *stand-in* tagged with that exact ref instead:

  1. a Debian bookworm base: ``debootstrap --variant=minbase bookworm`` +
     ``docker import`` (cached by a hash of how it is made);
  2. ``docker build`` of ``e2e/standins/<name>/Dockerfile`` on top of it
     (classic builder; build-time files are passed through the context).

Every stand-in carries the labels ``org.mlplatform.e2e=true``,
``org.mlplatform.e2e.standin=true`` and ``org.mlplatform.e2e.recipe=<hash>``
(hash of its recipe files, the lock (constraints.txt) where it installs packages, and the base
recipe). A stand-in whose tag already carries the current hash is not rebuilt.
An image under one of the refs that is *not* a stand-in (a real image pulled or
loaded earlier) is left alone.

Usage (Docker SDK for Python 7.1.0, in the repo .venv):
    e2e/engine.sh
    .venv/bin/python e2e/base_images.py                # all images
    .venv/bin/python e2e/base_images.py postgres redis  # some
    options: --no-pull  --rebuild  --list
Touches nothing on the engine besides these tags, the base image and the
intermediate containers/images of its own builds.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import contextlib

import docker
import docker.errors

E2E_DIR = Path(__file__).resolve().parent
REPO_DIR = E2E_DIR.parent
sys.path.insert(0, str(REPO_DIR))

from testing.labels import E2E_LABEL  # noqa: E402
STANDINS_DIR = E2E_DIR / "standins"
BUILD_DIR = E2E_DIR / ".build"
CONSTRAINTS_FILE = REPO_DIR / "constraints.txt"

LABEL_E2E = E2E_LABEL
LABEL_STANDIN = f"{E2E_LABEL}.standin"
LABEL_RECIPE = f"{E2E_LABEL}.recipe"
LABEL_BASE = f"{E2E_LABEL}.base"

BASE_REF = "mlplatform-e2e/debian-base:bookworm"
DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
HOST_CA_BUNDLE = Path(
    os.environ.get("E2E_BUILD_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
)


@dataclasses.dataclass(frozen=True)
class Standin:
    name: str  # directory under e2e/standins/
    ref: str  # the exact tag the program references
    # installs Python packages: the whole lock (constraints.txt) goes into the context as
    # build-constraints.txt and is part of the recipe hash
    locked: bool = False
    # copy the machine's CA bundle into the context as build-ca.crt
    needs_ca: bool = False


# Build order matters only for timing output; no stand-in depends on another.
STANDINS: tuple[Standin, ...] = (
    Standin("postgres", "postgres:16.11-bookworm"),
    Standin("redis", "redis:7.4.6-bookworm"),
    Standin("python", "python:3.11.14-slim-bookworm"),
    Standin("airflow", "apache/airflow:3.3.2-python3.11", locked=True, needs_ca=True),
    # The object store: moto's S3 behind Garage's interface (no Garage image can be had here).
    Standin("garage", "dxflrs/garage:v2.4.1", locked=True, needs_ca=True),
)

# Files the build writes into a context; not part of the recipe hash.
GENERATED = {"build-ca.crt", "build-constraints.txt"}


def log(msg: str) -> None:
    print(f"[base-images] {msg}", flush=True)


# --------------------------------------------------------------------------
# mirrors and hashes


def debian_mirrors() -> tuple[str, str]:
    """Main and security mirror URIs as apt is configured on this machine."""
    main = security = None
    files = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(d.iterdir())
    for f in files:
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":  # deb822
            for stanza in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M | re.I)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M | re.I)
                if not uris or not suites:
                    continue
                s = suites.group(1).split()
                if DEBIAN_SUITE in s and main is None:
                    main = uris.group(1)
                if f"{DEBIAN_SUITE}-security" in s and security is None:
                    security = uris.group(1)
        else:
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if not m:
                    continue
                if m.group(2) == DEBIAN_SUITE and main is None:
                    main = m.group(1)
                if m.group(2) == f"{DEBIAN_SUITE}-security" and security is None:
                    security = m.group(1)
    return (main or DEFAULT_MIRROR).rstrip("/"), (
        security or DEFAULT_SECURITY_MIRROR
    ).rstrip("/")


def base_recipe_hash(mirror: str, security: str) -> str:
    h = hashlib.sha256()
    h.update(f"debootstrap --variant=minbase {DEBIAN_SUITE} {mirror}\n".encode())
    h.update(_rootfs_tweaks_text(mirror, security).encode())
    return h.hexdigest()[:16]


def recipe_hash(s: Standin, base_hash: str) -> str:
    h = hashlib.sha256()
    h.update(f"ref={s.ref}\nbase={base_hash}\n".encode())
    d = STANDINS_DIR / s.name
    for f in sorted(p for p in d.rglob("*") if p.is_file()):
        rel = f.relative_to(d).as_posix()
        if rel in GENERATED:
            continue
        h.update(f"file {rel} {oct(f.stat().st_mode & 0o111)}\n".encode())
        h.update(f.read_bytes())
    if s.locked:
        h.update(b"lock\n" + CONSTRAINTS_FILE.read_bytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------
# base image


def _rootfs_tweaks_text(mirror: str, security: str) -> str:
    # Everything written into the rootfs; part of the base hash.
    return f"""\
policy-rc.d: exit 101
sources: {mirror} {DEBIAN_SUITE} {DEBIAN_SUITE}-updates; {security} {DEBIAN_SUITE}-security
dpkg excludes: doc man groff info lintian linda locale (slim)
apt: docker-clean, no-languages, gzip-indexes off, no-recommends off
cleanup: apt lists/cache, resolv.conf, hostname, hosts, machine-id, /dev /proc /sys contents
v2
"""


def _tweak_rootfs(root: Path, mirror: str, security: str) -> None:
    def write(rel: str, text: str, mode: int = 0o644) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        p.chmod(mode)

    # Like Debian's official images: no services started by package installs.
    write("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    # apt sources as Debian's official bookworm image (with updates + security).
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    write(
        "etc/apt/sources.list.d/debian.sources",
        f"Types: deb\nURIs: {mirror}\nSuites: {DEBIAN_SUITE} {DEBIAN_SUITE}-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {security}\nSuites: {DEBIAN_SUITE}-security\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )
    # "slim" variant: no docs, man pages, translations.
    write(
        "etc/dpkg/dpkg.cfg.d/docker",
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\npath-exclude /usr/share/groff/*\n"
        "path-exclude /usr/share/info/*\npath-exclude /usr/share/lintian/*\n"
        "path-exclude /usr/share/linda/*\npath-exclude /usr/share/locale/*\n"
        "path-include /usr/share/locale/locale.alias\n",
    )
    write(
        "etc/apt/apt.conf.d/docker-clean",
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n',
    )
    write("etc/apt/apt.conf.d/docker-no-languages", 'Acquire::Languages "none";\n')
    write(
        "etc/apt/apt.conf.d/docker-autoremove-suggests",
        'Apt::AutoRemove::SuggestsImportant "false";\n',
    )
    # man dirs some postinst scripts expect even with path-exclude
    (root / "usr/share/man/man1").mkdir(parents=True, exist_ok=True)
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
        for p in root.glob(pattern):
            if p.is_file() or p.is_symlink():
                p.unlink()
    for rel in ("etc/resolv.conf", "etc/hostname"):
        p = root / rel
        if p.exists() or p.is_symlink():
            p.unlink()
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    (root / "etc/machine-id").write_text("")


def ensure_base(client: docker.DockerClient, rebuild: bool) -> tuple[str, float]:
    """Return (base hash, seconds spent) after making sure BASE_REF exists."""
    mirror, security = debian_mirrors()
    bhash = base_recipe_hash(mirror, security)
    if not rebuild:
        try:
            img = client.images.get(BASE_REF)
            if (img.labels or {}).get(LABEL_RECIPE) == bhash:
                log(f"base {BASE_REF} up to date (recipe {bhash})")
                return bhash, 0.0
        except docker.errors.ImageNotFound:
            pass
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is not installed: run e2e/engine.sh first")
    t0 = time.monotonic()
    BUILD_DIR.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=BUILD_DIR))
    root = work / "rootfs"
    tarball = work / "rootfs.tar"
    try:
        log(f"debootstrap --variant=minbase {DEBIAN_SUITE} ({mirror})")
        res = subprocess.run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(root), mirror],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if res.returncode != 0:
            print(res.stdout[-4000:], file=sys.stderr)
            raise SystemExit(f"debootstrap failed (exit {res.returncode})")
        t1 = time.monotonic()
        _tweak_rootfs(root, mirror, security)
        subprocess.run(
            [
                "tar", "--numeric-owner", "--xattrs", "-C", str(root),
                "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
                "-cf", str(tarball), ".",
            ],
            check=True,
        )
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'CMD ["bash"]',
            f"LABEL {LABEL_E2E}=true {LABEL_BASE}=true {LABEL_RECIPE}={bhash}",
        ]
        repo, tag = BASE_REF.rsplit(":", 1)
        client.api.import_image_from_file(
            str(tarball), repository=repo, tag=tag, changes=changes
        )
        img = client.images.get(BASE_REF)
        if (img.labels or {}).get(LABEL_RECIPE) != bhash:
            raise SystemExit("imported base image lacks its labels")
        dt = time.monotonic() - t0
        log(
            f"base {BASE_REF} made in {dt:.1f}s (debootstrap {t1 - t0:.1f}s, "
            f"tar+import {dt - (t1 - t0):.1f}s), {img.attrs['Size'] / 1e6:.0f} MB"
        )
        return bhash, dt
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------
# stand-ins


def try_pull(client: docker.DockerClient, ref: str) -> bool:
    repo, tag = ref.rsplit(":", 1)
    t0 = time.monotonic()
    try:
        for _ in client.api.pull(repo, tag, stream=True, decode=True):
            pass
        client.images.get(ref)
    except (docker.errors.APIError, docker.errors.ImageNotFound) as e:
        first = str(e).splitlines()[0][:160]
        log(f"pull {ref} failed in {time.monotonic() - t0:.1f}s ({first})")
        return False
    log(f"pulled real image {ref} in {time.monotonic() - t0:.1f}s")
    return True


def _prepare_context(s: Standin) -> Path:
    ctx = STANDINS_DIR / s.name
    ca = ctx / "build-ca.crt"
    cons = ctx / "build-constraints.txt"
    if s.needs_ca:
        if HOST_CA_BUNDLE.is_file():
            shutil.copyfile(HOST_CA_BUNDLE, ca)
        else:
            ca.write_text("")  # no proxy CA on this machine: pip uses its own
    if s.locked:
        shutil.copyfile(CONSTRAINTS_FILE, cons)
    return ctx


def _cleanup_context(s: Standin) -> None:
    for name in GENERATED:
        (STANDINS_DIR / s.name / name).unlink(missing_ok=True)


def build_standin(client: docker.DockerClient, s: Standin, rhash: str) -> None:
    ctx = _prepare_context(s)
    labels = {LABEL_E2E: "true", LABEL_STANDIN: "true", LABEL_RECIPE: rhash}
    tail: list[str] = []
    try:
        stream = client.api.build(
            path=str(ctx),
            tag=s.ref,
            buildargs={"BASE_IMAGE": BASE_REF},
            labels=labels,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                for line in tail[-30:]:
                    print(f"  {s.name}| {line}", file=sys.stderr)
                raise SystemExit(f"build of {s.ref} failed: {chunk['error'].strip()}")
            text = chunk.get("stream")
            if text:
                for line in text.rstrip("\n").splitlines():
                    tail.append(line)
                    if os.environ.get("E2E_BUILD_VERBOSE") or line.startswith("Step "):
                        print(f"  {s.name}| {line}", flush=True)
    finally:
        _cleanup_context(s)
    img = client.images.get(s.ref)
    if (img.labels or {}).get(LABEL_RECIPE) != rhash:
        raise SystemExit(f"{s.ref}: built image lacks its recipe label")


def ensure_standin(
    client: docker.DockerClient,
    s: Standin,
    base_hash: str,
    pull: bool,
    rebuild: bool,
    need_base,
) -> dict:
    t0 = time.monotonic()
    rhash = recipe_hash(s, base_hash)
    result = {"ref": s.ref, "recipe": rhash}
    try:
        existing = client.images.get(s.ref)
    except docker.errors.ImageNotFound:
        existing = None
    labels = (existing.labels or {}) if existing else {}
    if existing and labels.get(LABEL_STANDIN) != "true":
        result["action"] = "kept (real image present)"
    elif existing and labels.get(LABEL_RECIPE) == rhash and not rebuild:
        result["action"] = "cached"
    elif pull and try_pull(client, s.ref):
        result["action"] = "pulled"
    else:
        need_base()
        t1 = time.monotonic()
        log(f"building stand-in {s.ref} (recipe {rhash})")
        build_standin(client, s, rhash)
        result["action"] = "built"
        result["build_seconds"] = round(time.monotonic() - t1, 1)
        if existing and existing.id != client.images.get(s.ref).id:
            # the previous stand-in is now untagged; remove it if unused
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(existing.id)
    img = client.images.get(s.ref)
    result["seconds"] = round(time.monotonic() - t0, 1)
    result["size_mb"] = round(img.attrs["Size"] / 1e6)
    result["id"] = img.short_id
    log(
        f"{s.ref}: {result['action']} in {result['seconds']}s, "
        f"{result['size_mb']} MB, {result['id']}"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="stand-in names (default: all): "
                    + ", ".join(s.name for s in STANDINS))
    ap.add_argument("--no-pull", action="store_true", help="do not try the registry first")
    ap.add_argument("--rebuild", action="store_true", help="ignore the cache (base + stand-ins)")
    ap.add_argument("--list", action="store_true", help="print name and ref, then exit")
    args = ap.parse_args(argv)

    if args.list:
        for s in STANDINS:
            print(f"{s.name}\t{s.ref}")
        return 0
    by_name = {s.name: s for s in STANDINS}
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        ap.error(f"unknown stand-in(s): {unknown}")
    selected = [by_name[n] for n in args.names] if args.names else list(STANDINS)

    client = docker.from_env(timeout=600)
    client.ping()
    t0 = time.monotonic()
    mirror, security = debian_mirrors()
    base_hash = base_recipe_hash(mirror, security)
    base_state = {"done": False}

    def need_base() -> None:
        # made at most once per run, and only when something must be built
        if not base_state["done"]:
            ensure_base(client, args.rebuild)
            base_state["done"] = True

    results = [
        ensure_standin(client, s, base_hash, not args.no_pull, args.rebuild, need_base)
        for s in selected
    ]
    log(f"done in {time.monotonic() - t0:.1f}s")
    for r in results:
        print(f"  {r['ref']:<36} {r['action']:<26} {r['seconds']:>7}s {r['size_mb']:>6} MB  {r['id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
