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


def _browse_live(url: str, screenshot: Path, wait_for: str, timeout_s: float = 90) -> str:
    """Render a page that draws itself over a websocket (Streamlit): drive Chromium over its DevTools protocol,
    wait until the page's text holds ``wait_for``, then save a screenshot and return the DOM. (``websockets`` is in
    the test venv by the lock, as a dependency of streamlit.)"""
    import base64
    import itertools
    import json
    import socket
    import time

    import requests
    from websockets.sync.client import connect

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Chromium's helpers may still write to the profile as it exits: its removal must not fail the check.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen([_chromium(), *CHROMIUM_FLAGS[:-1], f"--user-data-dir={profile}",
                                    f"--remote-debugging-port={port}", url],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline, page = time.monotonic() + 30, None
            while page is None and time.monotonic() < deadline:
                try:
                    page = next((t for t in requests.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
                                 if t["type"] == "page"), None)
                except requests.RequestException:
                    time.sleep(0.5)
            assert page, "Chromium's DevTools endpoint never listed the page"
            ids = itertools.count(1)
            with connect(page["webSocketDebuggerUrl"], max_size=2**26) as devtools:
                def call(method: str, **params: object) -> dict:
                    request_id = next(ids)
                    devtools.send(json.dumps({"id": request_id, "method": method, "params": params}))
                    while True:
                        message = json.loads(devtools.recv(timeout=30))
                        if message.get("id") == request_id:
                            return dict(message.get("result", {}))

                def evaluate(expression: str) -> str:
                    return str(call("Runtime.evaluate", expression=expression, returnByValue=True)["result"]
                               .get("value", ""))

                deadline, text = time.monotonic() + timeout_s, ""
                while wait_for not in text and time.monotonic() < deadline:
                    time.sleep(1)
                    text = evaluate("document.body ? document.body.innerText : ''")
                assert wait_for in text, f"{url} never showed {wait_for!r}: {text[-1000:]!r}"
                time.sleep(2)  # charts draw after the text
                screenshot.write_bytes(base64.b64decode(call("Page.captureScreenshot", format="png")["data"]))
                return evaluate("document.documentElement.outerHTML")
        finally:
            browser.terminate()
            browser.wait(timeout=30)


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
