"""The model app: the champion's version and metrics, the latest batch anomalies, scoring through the model server.

Run: streamlit run app.py (the image's CMD). Everything it reads or calls is in backend.py.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import backend

st.set_page_config(page_title=f"{backend.MODEL_NAME} @ {backend.MODEL_ALIAS}", layout="wide")
st.title(f"{backend.MODEL_NAME} @ {backend.MODEL_ALIAS}")

st.header("Champion")
try:
    champion = backend.champion()
except backend.NoChampion as exc:
    st.info(str(exc))
except Exception as exc:  # MLflow down or refusing the login: say so, keep the rest of the page
    st.error(f"MLflow unavailable: {exc}")
else:
    columns = st.columns(1 + len(champion.headline()))
    columns[0].metric("Champion version", champion.version)
    for column, (key, value) in zip(columns[1:], champion.headline(), strict=True):
        column.metric(key, f"{value:.3f}")
    st.caption(f"run {champion.run_id}")
    with st.expander("All metrics"):
        st.dataframe(pd.Series(champion.metrics, name="value").sort_index())

st.header("Latest batch scoring")
scores = backend.latest_scores()
if scores is None:
    st.info(f"No batch scores yet ({backend.scores_path()}): the training DAG writes them after each run.")
else:
    flagged = int(scores["is_predicted_anomaly"].sum())
    version = scores["model_version"].iloc[0] if "model_version" in scores and len(scores) else "?"
    st.caption(f"{len(scores)} rows scored by version {version}, {flagged} flagged as anomalies")
    st.line_chart(backend.score_chart(scores))
    st.subheader("Top anomalies")
    st.dataframe(backend.anomalies(scores), hide_index=True)

st.header("Score through the model server")
try:
    served = backend.served_model()
except Exception as exc:
    st.error(f"Model server unavailable: {exc}")
    served = {}
inputs = list(served.get("inputs") or [])
if served:
    st.caption(f"serving version {served.get('version') or 'none yet'}; checks the alias every "
               f"{served.get('poll_seconds')} s")
if inputs:
    example = served.get("example") or {}
    with st.form("row"):
        values = {name: st.number_input(name, value=float(example.get(name, 0.0)), format="%.4f")
                  for name in inputs}
        if st.form_submit_button("Score row"):
            try:
                scored = backend.score(pd.DataFrame([values]), inputs)
                prediction = scored.frame["prediction"].iloc[0]
                st.success(f"prediction {prediction} ({'anomaly' if prediction == -1 else 'normal'}) "
                           f"by version {scored.model_version}")
            except Exception as exc:
                st.error(str(exc))
    upload = st.file_uploader("CSV with the model's input columns", type="csv")
    if upload is not None:
        try:
            scored = backend.score(backend.read_upload(upload.getvalue()), inputs)
            st.caption(f"{int(scored.frame['anomaly'].sum())} of {len(scored.frame)} rows flagged by version "
                       f"{scored.model_version}")
            st.dataframe(scored.frame, hide_index=True)
        except Exception as exc:
            st.error(str(exc))
elif served:
    st.info("The model server has no champion loaded yet.")
