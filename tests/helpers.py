"""Small helpers shared by the mock tests."""

from __future__ import annotations

import functools

from tests.pulumi_mocks import ProgramRun, run_program, stack_config

STACKS = ("dev", "staging", "prod")


@functools.lru_cache(maxsize=None)
def program_for(stack: str) -> ProgramRun:
    """The whole program run once per stack file (cached: runs are read-only)."""
    return run_program(stack)


def program_with(stack: str = "dev", **overrides) -> ProgramRun:
    """The program for ``stack`` with top-level config sections replaced/merged."""
    config = dict(stack_config(stack))
    for key, value in overrides.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return run_program(stack, config)
