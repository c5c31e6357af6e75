"""The realiser applies every input property the program declares, or says why it does not."""

from __future__ import annotations

from testing.program import ProgramRun
from testing.realiser import APPLIED, IGNORED, property_paths


def test_every_declared_property_is_applied_or_deliberately_ignored(stack: ProgramRun):
    missing = set()
    for r in stack.resources:
        if r.short_type in APPLIED:
            for path in property_paths(r.inputs):
                if path not in APPLIED[r.short_type] and path not in IGNORED[r.short_type]:
                    missing.add(f"{r.short_type}.{path}")
    assert not missing, f"the realiser does not apply: {sorted(missing)}"


def test_every_ignored_property_says_why():
    for kind, reasons in IGNORED.items():
        for prop, reason in reasons.items():
            assert len(reason) > 20, f"{kind}.{prop}"


def test_an_unapplied_property_would_be_caught():
    assert "uploads.owner" in property_paths({"uploads": [{"file": "/x", "owner": "1"}]})
    assert "privileged" not in APPLIED["Container"] and "privileged" not in IGNORED["Container"]
