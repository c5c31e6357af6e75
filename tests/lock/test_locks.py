"""The locks are complete and current: every installed package pinned, every lock made from today's inputs."""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from tools.lock import LOCKS, ROOT

def _pins(path: str) -> dict[str, str]:
    """Name -> version for this interpreter (a universal lock may pin other versions for other Pythons)."""
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        if not line or line[0] in "# ":
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            [spec] = requirement.specifier
            pins[re.sub(r"[-_.]+", "-", requirement.name).lower()] = spec.version
    return pins


@pytest.mark.parametrize("lock", LOCKS, ids=[lock.path for lock in LOCKS])
def test_the_lock_was_made_from_the_current_pins_and_requirement_files(lock):
    assert lock.recorded_hash() == lock.inputs_hash(), f"{lock.path} is stale: run `make lock`"


def test_every_package_in_the_test_venv_is_pinned_at_its_installed_version():
    pins = _pins("constraints.txt")
    unpinned = {}
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name in ("pip", "setuptools", "wheel"):
            continue
        if pins.get(name) != dist.version:
            unpinned[name] = (dist.version, pins.get(name))
    assert not unpinned, f"installed (version, pinned) differ: {unpinned}"


@pytest.mark.parametrize("lock", LOCKS, ids=[lock.path for lock in LOCKS])
def test_requirement_files_name_packages_and_leave_versions_to_the_lock(lock):
    for path in lock.inputs:
        for line in (ROOT / path).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-r "):
                assert not re.search(r"[=<>~!]", line), f"{path}: {line} (versions belong in {lock.pins})"


def test_celery_stays_on_the_release_the_celery_provider_can_import():
    assert _pins("constraints.txt")["celery"].startswith("5.5.")
