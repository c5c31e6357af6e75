"""A real browser (Debian's headless Chromium) on the realised stack; screenshots in build/.

Runs after test_platform_e2e.py (file order), so the training experiment exists.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from e2e.realise import BUILD_DIR
from tests.e2e.conftest import Stack

SCREENSHOTS = BUILD_DIR.parent
# Headless, and no background traffic to the internet (this machine's network is closed).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1400,900", "--virtual-time-budget=20000",
]


def _chromium() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is not installed (make e2e installs it)"
    return path


def _browse(url: str, screenshot: Path) -> str:
    """Render ``url``: save a screenshot and return the DOM after scripts ran."""
    with tempfile.TemporaryDirectory() as profile:
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        subprocess.run(
            [_chromium(), *flags, f"--screenshot={screenshot}", url], check=True, capture_output=True, timeout=120
        )
        dom = subprocess.run(
            [_chromium(), *flags, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=120
        )
    assert screenshot.stat().st_size > 10_000, f"{screenshot} looks empty"
    return dom.stdout


# With MLflow's auth on (prod) the page asks for a login, which Chromium could only be given on its command
# line; the prod shape's login is checked over HTTP in test_platform_e2e.py instead.
@pytest.mark.shapes("dev")
def test_mlflow_ui_shows_the_training_experiment(stack: Stack):
    client = stack.mlflow()
    experiment = client.get_experiment_by_name("anomaly-detection")
    runs = client.search_runs([experiment.experiment_id], max_results=1)
    dom = _browse(
        f"{stack.endpoints['mlflow']['url']}/#/experiments/{experiment.experiment_id}/runs",
        SCREENSHOTS / "e2e-mlflow-experiment.png",
    )
    assert "anomaly-detection" in dom
    assert runs[0].info.run_name in dom


def test_airflow_login_page_renders(stack: Stack):
    dom = _browse(f"{stack.endpoints['airflow']['url']}/", SCREENSHOTS / "e2e-airflow-login.png")
    assert "password" in dom.lower()
