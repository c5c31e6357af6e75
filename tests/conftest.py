"""Shared fixtures; makes the repo root importable as it is for `pulumi up`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.postgres_server import postgres_server  # noqa: E402,F401  (fixture)
