"""Shared fixtures; makes the repo root importable as it is for `pulumi up`."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testing.postgres import postgres_server  # noqa: E402,F401  (fixture)
from testing.program import CHECKED_CONFIGS, ProgramRun, deployed, previewed  # noqa: E402


@pytest.fixture(params=CHECKED_CONFIGS)
def config_name(request: pytest.FixtureRequest) -> str:
    """Each shipped stack file, and one config with every optional service on."""
    return str(request.param)


@pytest.fixture
def stack(config_name: str) -> ProgramRun:
    """The program as `pulumi up` runs it."""
    return deployed(config_name)


@pytest.fixture
def preview(config_name: str) -> ProgramRun:
    """The program as `pulumi preview` of a new stack runs it (computed values unknown)."""
    return previewed(config_name)


@pytest.fixture(autouse=True)
def _program_leaves_the_build_context_alone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the e2e, the program's runs under mocks do not stage (or remove) the extra CA bundle in
    images/ca/: an e2e image build running at the same time on this checkout reads it."""
    if "e2e" in request.path.parts:
        return
    monkeypatch.setattr("components.platform.stage_ca_bundle", lambda bundle: None)
