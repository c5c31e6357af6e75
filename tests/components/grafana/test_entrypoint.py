"""Grafana's entrypoint wrapper, executed: the generated admin password is re-asserted on a kept database."""

from __future__ import annotations

import pytest

from components.grafana import ADMIN_PASSWORD_FILE, ENTRYPOINT_SCRIPT
from testing.scripts import Sandbox

ENV = {"GF_PATHS_DATA": "/var/lib/grafana", "GF_PATHS_HOME": "/usr/share/grafana",
       "GF_PATHS_CONFIG": "/etc/grafana/grafana.ini"}


@pytest.fixture
def box(tmp_path) -> Sandbox:
    sandbox = Sandbox(tmp_path, container_paths=("/etc/grafana", "/var/lib/grafana"))
    sandbox.write(ADMIN_PASSWORD_FILE, "generated-admin-password")
    sandbox.stub("grafana", 'cat > /var/lib/grafana/stdin-was')
    (sandbox.bin / "run.sh").write_text("#!/bin/bash\necho started > /var/lib/grafana/started\n")
    return sandbox


def _run(box: Sandbox):
    script = ENTRYPOINT_SCRIPT.replace("exec /run.sh", f"exec {box.bin}/run.sh")
    (box.bin / "run.sh").write_text(box.map_paths((box.bin / "run.sh").read_text()))
    (box.bin / "run.sh").chmod(0o755)
    return box.run(script, ENV, shell="sh")


def test_on_a_kept_database_the_admin_password_is_reset_from_the_file_on_stdin(box):
    box.write("/var/lib/grafana/grafana.db", "")
    assert _run(box).returncode == 0
    [reset] = box.calls("grafana")
    assert reset.argv[reset.argv.index("admin"):] == ["admin", "reset-admin-password", "--password-from-stdin"]
    assert box.path("/var/lib/grafana/stdin-was").read_text() == "generated-admin-password"
    assert "generated-admin-password" not in " ".join(reset.argv)
    assert box.path("/var/lib/grafana/started").exists()


def test_on_a_new_volume_grafana_creates_the_admin_itself(box):
    assert _run(box).returncode == 0
    assert box.calls("grafana") == [] and box.path("/var/lib/grafana/started").exists()


def test_a_failed_reset_stops_the_start(box):
    box.write("/var/lib/grafana/grafana.db", "")
    box.stub("grafana", "exit 3")
    assert _run(box).returncode == 3 and not box.path("/var/lib/grafana/started").exists()
