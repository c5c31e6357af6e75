"""Run the scripts containers run (entrypoints, init jobs, health checks) for real, under bash.

The commands a script calls (``psql``, ``airflow``, ``redis-cli``...) are
replaced by stubs on ``PATH`` that record their arguments and environment and
then do what the test tells them. Absolute paths the container has
(``/run/secrets``, ``/mlplatform``, ``/tmp``) are mapped to a sandbox folder,
so a script runs unchanged but touches nothing outside the test's tmp dir.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_RECORD = (
    f"{shlex.quote(sys.executable)} -c 'import json, os, sys; "
    'print(json.dumps({"cmd": os.path.basename(sys.argv[1]), "argv": sys.argv[2:], "env": dict(os.environ)}))\' '
    '"$0" "$@" >> "$STUB_LOG"'
)


@dataclass(frozen=True)
class Call:
    """One call of a stubbed command."""

    cmd: str
    argv: list[str]
    env: dict[str, str]


def _default_signals() -> None:
    for number in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)


class Sandbox:
    """A folder standing in for a container's file system, with stubbed commands."""

    def __init__(self, root: Path, container_paths: tuple[str, ...] = ("/run/secrets", "/mlplatform", "/tmp")):
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.log = root / "calls.jsonl"
        self.log.touch()
        self.paths = {path: root / "fs" / path.strip("/") for path in container_paths}
        for folder in self.paths.values():
            folder.mkdir(parents=True, exist_ok=True)

    def path(self, container_path: str) -> Path:
        """Where a container path lives in the sandbox."""
        for prefix, folder in self.paths.items():
            if container_path == prefix or container_path.startswith(prefix + "/"):
                return folder / container_path[len(prefix):].lstrip("/")
        raise ValueError(f"{container_path} is outside the sandbox's container paths {list(self.paths)}")

    def write(self, container_path: str, content: str) -> Path:
        target = self.path(container_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        return target

    def map_paths(self, text: str) -> str:
        """The text with container paths replaced by their sandbox folders, in one pass."""
        # Only whole paths: "/opt/mlplatform/" is not "/mlplatform/", "/tmpfile" is not "/tmp".
        alternatives = "|".join(re.escape(prefix) for prefix in sorted(self.paths, key=len, reverse=True))
        pattern = rf"(?<![\w.-])(?:{alternatives})(?=/|$|[\s\"':;])"
        return re.sub(pattern, lambda m: str(self.paths[m.group(0)]), text)

    def stub(self, name: str, body: str = "exit 0") -> None:
        """Replace command ``name``: record the call, then run ``body`` (bash, container paths mapped)."""
        script = self.bin / name
        script.write_text(f"#!/bin/bash\n{_RECORD}\n{self.map_paths(body)}\n")
        script.chmod(0o755)

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        mapped = {key: self.map_paths(value) for key, value in (env or {}).items()}
        return {"PATH": f"{self.bin}:/usr/bin:/bin", "STUB_LOG": str(self.log), "HOME": str(self.root), **mapped}

    def run(self, script: str, env: Mapping[str, str] | None = None, args: tuple[str, ...] = (),
            shell: str = "bash", timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``script`` (its text) to completion."""
        return subprocess.run([shell, "-c", self.map_paths(script), "script", *args], env=self._env(env),
                              capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def start(self, script: str, env: Mapping[str, str] | None = None, args: tuple[str, ...] = (),
              shell: str = "bash") -> subprocess.Popen[str]:
        """Start ``script`` in the background (for long-running entrypoints), with the default signal
        dispositions a container's first process gets: a test run launched as a background job inherits
        SIGINT ignored, and a shell cannot trap a signal ignored when it started."""
        return subprocess.Popen([shell, "-c", self.map_paths(script), "script", *args], env=self._env(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.root,
                                preexec_fn=_default_signals)

    def calls(self, cmd: str | None = None) -> list[Call]:
        out = []
        for line in self.log.read_text().splitlines():
            data: dict[str, Any] = json.loads(line)
            if cmd is None or data["cmd"] == cmd:
                out.append(Call(data["cmd"], data["argv"], data["env"]))
        return out


def secrets_on_command_lines(calls: list[Call], secrets: list[str]) -> list[str]:
    """Every generated secret that a stubbed command received as an argument."""
    return sorted({s for call in calls for arg in call.argv for s in secrets if s and s in arg})
