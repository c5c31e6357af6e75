"""What a stack declares, normalised, to compare two versions of the program.

    python -m testing.snapshot dump STACK [--all-services] > before.json
    ... change the program ...
    python -m testing.snapshot dump STACK [--all-services] > after.json
    python -m testing.snapshot diff before.json after.json

Generated values (passwords, keys and what is derived from them), mock ids and
the per-deploy trigger are replaced by placeholders, so two runs of the same
program dump the same text. ``diff`` matches resources by type and name, or by
an alias the newer one declares (an intended rename), and prints every
difference: nothing deployed should change by accident.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from typing import Any

from testing.program import REPO_ROOT, ProgramRun, all_services_config, run_program

_HEX = re.compile(r"\b[0-9a-f]{32,64}\b")


def _derived(secret: str) -> set[str]:
    """A generated value and the forms the program derives from it (the url-safe Fernet key)."""
    forms = {secret}
    try:
        if len(base64.b64decode(secret, validate=True)) == 32:
            forms.add(secret.replace("+", "-").replace("/", "_"))
    except ValueError:
        pass
    return forms


def _normalise(value: Any, secrets: list[str], root: str) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v, secrets, root) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_normalise(v, secrets, root) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "<generated>")
        return _HEX.sub("<hex>", value.replace(root, "<repo>"))
    return value


def dump(run: ProgramRun, root: str = str(REPO_ROOT)) -> dict[str, Any]:
    secrets = sorted({form for s in run.mocks.generated_secrets if s for form in _derived(s)}, key=len, reverse=True)
    names = {r.urn: r.name for r in run.resources}
    rows = [
        {
            "type": r.typ,
            "name": r.name,
            "aliases": r.aliases,
            "inputs": _normalise(r.inputs, secrets, root),
            "secret_paths": sorted(r.secret_paths),
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            "replace_on_changes": r.replace_on_changes,
            "delete_before_replace": r.delete_before_replace,
            "replacement_trigger": r.replacement_trigger is not None,
            "dependencies": sorted(names.get(d, d) for d in r.dependencies),
        }
        for r in run.resources
    ]
    exports = {k: _normalise(e.value, secrets, root) for k, e in run.exports.items()}
    return {"resources": sorted(rows, key=lambda row: (row["type"], row["name"])), "exports": exports}


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Every difference between two dumps, renames (by alias) named as such."""
    old = {(r["type"], r["name"]): r for r in before["resources"]}
    renamed = {alias: r["name"] for r in after["resources"] for alias in r["aliases"]
               if (r["type"], r["name"]) not in old and (r["type"], alias) in old}
    lines, seen = [], set()
    for row in after["resources"]:
        key = (row["type"], row["name"])
        match = old.get(key)
        if match is None:
            for alias in row["aliases"]:
                if (row["type"], alias) in old:
                    match = old[(row["type"], alias)]
                    lines.append(f"renamed {row['type']} {alias} -> {row['name']} (alias)")
                    break
        if match is None:
            lines.append(f"new {row['type']} {row['name']}")
            continue
        seen.add((match["type"], match["name"]))
        for field in ("inputs", "secret_paths", "protect", "retain_on_delete", "replace_on_changes",
                      "delete_before_replace", "replacement_trigger"):
            if field == "inputs":
                for prop in sorted(set(match["inputs"]) | set(row["inputs"])):
                    if match["inputs"].get(prop) != row["inputs"].get(prop):
                        lines.append(f"changed {row['name']}.{prop}: {json.dumps(match['inputs'].get(prop))[:200]}"
                                     f" -> {json.dumps(row['inputs'].get(prop))[:200]}")
            elif match[field] != row[field]:
                lines.append(f"changed {row['name']} {field}: {match[field]} -> {row[field]}")
        if sorted(renamed.get(d, d) for d in match["dependencies"]) != row["dependencies"]:
            lines.append(f"changed {row['name']} dependencies: {match['dependencies']} -> {row['dependencies']}")
    lines += [f"gone {t} {n}" for (t, n) in old if (t, n) not in seen]
    if before["exports"] != after["exports"]:
        lines.append("changed exports")
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["dump"] and len(argv) >= 2:
        stack = argv[1]
        run = run_program(stack, all_services_config() if "--all-services" in argv else None, state={})
        json.dump(dump(run), sys.stdout, indent=1, sort_keys=True)
        return 0
    if argv[:1] == ["diff"] and len(argv) == 3:
        with open(argv[1]) as a, open(argv[2]) as b:
            lines = diff(json.load(a), json.load(b))
        print("\n".join(lines) or "no differences")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
