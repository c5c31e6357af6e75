"""The Streamlit page (images/modelapp/app.py) rendered by Streamlit's AppTest, with fake MLflow and model server."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from streamlit.testing.v1 import AppTest

from tests.components.model_app.conftest import APP_DIR, FEATURES, MLFLOW, SERVER, write_scores

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _run() -> AppTest:
    app = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


def _text(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [i.value for i in app.info]
    parts += [e.value for e in app.error] + [h.value for h in app.header] + [s.value for s in app.subheader]
    return "\n".join(str(p) for p in parts)


def test_the_page_shows_the_champion_its_metrics_and_the_latest_anomalies(env: Path, fake: responses.RequestsMock):
    write_scores(env / "data", version="3")
    app = _run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Champion version"] == "3" and metrics["holdout_average_precision"] == "0.910"
    assert "96 rows scored by version 3, 5 flagged as anomalies" in _text(app)
    assert "Top anomalies" in _text(app)
    assert len(app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")) >= 1


def test_a_row_is_scored_through_the_model_server(env: Path, fake: responses.RequestsMock):
    fake.replace(responses.POST, f"{SERVER}/invocations", json={"predictions": [-1]}, headers={"X-Model-Version": "3"})
    app = _run()
    assert [n.label for n in app.number_input] == FEATURES
    assert app.number_input[0].value == 0.5  # the served model's example row
    app.button[0].click().run()
    assert [s.value for s in app.success] == ["prediction -1 (anomaly) by version 3"], [e.value for e in app.error]
    assert any(call.request.url == f"{SERVER}/invocations" for call in fake.calls)


def test_without_batch_scores_the_page_says_so(env: Path, fake: responses.RequestsMock):
    assert "No batch scores yet" in _text(_run())


def test_mlflow_down_leaves_the_rest_of_the_page_working(env: Path):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{MLFLOW}/api/2.0/mlflow/registered-models/alias", status=503)
        mock.get(f"{SERVER}/model", json={"version": None, "inputs": [], "poll_seconds": 30})
        write_scores(env / "data")
        app = _run()
    text = _text(app)
    assert "MLflow unavailable" in text and "rows scored by version" in text
    assert "no champion loaded yet" in text
