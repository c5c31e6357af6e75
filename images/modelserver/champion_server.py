"""REST scoring of ``models:/<name>@<alias>`` that follows the alias without a redeploy.

``/invocations`` is MLflow's own (``mlflow.pyfunc.scoring_server.invocations``): it
accepts what ``mlflow models serve`` accepts (JSON ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs``; CSV; parquet) and enforces the
model's signature. A thread checks the alias every ``MODEL_POLL_SECONDS``; when it
points at another version, that *version* is loaded (``models:/name/<v>``, so the check
and the load agree), warmed up on its input example, then swapped in as one reference.
Each request reads the reference once, so it is answered by exactly one version (sent
back in ``X-Model-Version``). A failed load keeps the old version serving and shows on
``/model``.

Endpoints: ``/health`` (200 while the registry answers and the champion, if there is
one, is loaded: the container's health check), ``/ping`` (MLflow's meaning: 200 once a
model is loaded), ``/version``, ``/model`` (name, alias, version, run, last check and
error), ``POST /model/refresh``, ``POST /invocations``.

Env: MLFLOW_TRACKING_URI, MODEL_NAME, MODEL_ALIAS, MODEL_POLL_SECONDS; the MLflow client
reads its login from ~/.mlflow/credentials when the server has auth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mlflow
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

log = logging.getLogger("champion_server")

MODEL_NAME = os.environ.get("MODEL_NAME", "anomaly-detector")
MODEL_ALIAS = os.environ.get("MODEL_ALIAS", "champion")
POLL_SECONDS = float(os.environ.get("MODEL_POLL_SECONDS", "30"))
REQUEST_TIMEOUT = float(os.environ.get("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "60"))
#: MLflow's error code when the model or the alias does not exist (yet).
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
#: What MLflow's basic auth answers a non-admin for a model that does not exist (it does not say which).
DENIED = "PERMISSION_DENIED"


@dataclass(frozen=True)
class Loaded:
    version: str
    run_id: str | None
    model: Any  # mlflow.pyfunc.PyFuncModel
    input_schema: Any
    loaded_at: float
    inputs: tuple[str, ...] = ()
    """Input column names from the signature."""
    example: dict[str, Any] | None = None
    """The first row of the logged input example (what a form can start from)."""


def _first_row(example: Any) -> dict[str, Any] | None:
    try:
        import pandas as pd

        if isinstance(example, pd.DataFrame) and len(example):
            return {str(k): (v.item() if hasattr(v, "item") else v) for k, v in example.iloc[0].items()}
    except Exception:  # an example of another shape: nothing to offer
        return None
    return None


class ChampionHolder:
    """The model version the alias points at, loaded; swapped as one reference."""

    def __init__(self, name: str, alias: str, client_factory: Callable[[], Any] = MlflowClient,
                 loader: Callable[[str], Any] | None = None) -> None:
        self.name, self.alias = name, alias
        self.current: Loaded | None = None
        self.last_check: float | None = None
        self.last_error: str | None = None
        self.registry_ok = False
        """The last check reached the registry (an alias that does not exist yet counts as an answer)."""
        self.champion_version: str | None = None
        """What the alias pointed at on the last check (None: no champion yet)."""
        self._client_factory = client_factory
        self._loader = loader or mlflow.pyfunc.load_model
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one refresh at a time (poller and POST /model/refresh)

    def refresh(self) -> bool:
        """Load the alias's version if it changed; True when a new version was swapped in."""
        with self._lock:
            client = self._client_factory()
            try:
                version = client.get_model_version_by_alias(self.name, self.alias)
            except MlflowException as exc:
                self.last_check = time.time()
                if exc.error_code == NOT_FOUND or (exc.error_code == DENIED and self._model_is_invisible(client)):
                    self.registry_ok, self.champion_version, self.last_error = True, None, None
                    return False
                self.registry_ok, self.last_error = False, f"registry: {exc.message}"
                log.warning("Checking %s@%s failed: %s", self.name, self.alias, self.last_error)
                return False
            except Exception as exc:  # unreachable registry, refused login: keep serving what is loaded
                self.last_check = time.time()
                self.registry_ok, self.last_error = False, f"registry: {type(exc).__name__}: {exc}"
                log.warning("Checking %s@%s failed: %s", self.name, self.alias, self.last_error)
                return False
            self.last_check, self.registry_ok = time.time(), True
            self.champion_version = str(version.version)
            if self.current is not None and self.current.version == self.champion_version:
                self.last_error = None
                return False
            try:
                model = self._loader(f"models:/{self.name}/{version.version}")
                example = getattr(model, "input_example", None)
                if example is not None:  # fail here, not on the first request
                    model.predict(example)
                schema = model.metadata.get_input_schema()
                names = tuple(schema.input_names()) if schema is not None and schema.has_input_names() else ()
                self.current = Loaded(str(version.version), version.run_id, model, schema, time.time(),
                                      names, _first_row(example))
            except Exception as exc:  # keep serving the previous version
                self.last_error = f"loading version {version.version}: {type(exc).__name__}: {exc}"
                log.warning("%s", self.last_error)
                return False
            self.last_error = None
            log.info("Serving %s version %s (alias %s)", self.name, version.version, self.alias)
            return True

    def _model_is_invisible(self, client: Any) -> bool:
        """After a denial: True when the login works and sees no model of that name (none exists yet; MLflow's
        auth answers "Permission denied" rather than "not found" to non-admins)."""
        try:
            return not client.search_registered_models(filter_string=f"name = '{self.name}'", max_results=1)
        except Exception:  # the login or the registry is the problem: not "no champion yet"
            return False

    def healthy(self) -> bool:
        """The service works: the registry answers, and the champion (when there is one) is being served."""
        if self.champion_version is None:
            return self.registry_ok or self.current is not None
        return self.current is not None

    def run_poller(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            # Retry soon until the first version is loaded, then at the configured interval.
            self._stop.wait(min(POLL_SECONDS, 5.0) if self.current is None else POLL_SECONDS)

    def stop(self) -> None:
        self._stop.set()


holder = ChampionHolder(MODEL_NAME, MODEL_ALIAS)


@contextlib.asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    threading.Thread(target=holder.run_poller, name="alias-poller", daemon=True).start()
    yield
    holder.stop()


app = FastAPI(title=f"{MODEL_NAME}@{MODEL_ALIAS} scoring", lifespan=_lifespan)


@app.middleware("http")
async def _timeout(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    try:
        return await asyncio.wait_for(call_next(request), timeout=REQUEST_TIMEOUT)
    except TimeoutError:
        return Response("Request processing time exceeded limit", status_code=504)


def _model_info() -> dict[str, Any]:
    current = holder.current
    return {
        "name": holder.name, "alias": holder.alias,
        "version": current.version if current else None, "run_id": current.run_id if current else None,
        "loaded_at": current.loaded_at if current else None, "champion_version": holder.champion_version,
        "inputs": list(current.inputs) if current else [], "example": current.example if current else None,
        "last_check": holder.last_check, "last_error": holder.last_error, "poll_seconds": POLL_SECONDS,
    }


@app.get("/health")
async def _health() -> JSONResponse:
    return JSONResponse({"status": "ok" if holder.healthy() else "unavailable", **_model_info()},
                        status_code=200 if holder.healthy() else 503)


@app.get("/ping")
async def _ping() -> Response:
    return Response("\n", status_code=200 if holder.current else 503, media_type="application/json")


@app.get("/version")
async def _version() -> Response:
    return Response(mlflow.__version__, media_type="application/json")


@app.get("/model")
async def _model() -> JSONResponse:
    return JSONResponse(_model_info())


@app.post("/model/refresh")
async def _refresh() -> JSONResponse:
    changed = await asyncio.to_thread(holder.refresh)
    return JSONResponse({"changed": changed, **_model_info()})


@app.post("/invocations")
async def _invocations(request: Request) -> Response:
    current = holder.current  # read once: the whole request uses one version
    if current is None:
        message = holder.last_error or f"no version of {holder.name} has the alias {holder.alias} yet"
        return JSONResponse({"error_code": "MODEL_NOT_LOADED", "message": message}, status_code=503)
    data = await request.body()
    content_type = request.headers.get("content-type") or "application/json"
    try:
        result = await asyncio.to_thread(scoring_server.invocations, data, content_type, current.model,
                                         current.input_schema)
    except MlflowException as exc:  # bad input: 400, as MLflow's own server answers
        return Response(exc.serialize_as_json(), status_code=exc.get_http_status_code(),
                        media_type="application/json")
    return Response(result.response, status_code=result.status, media_type=result.mimetype,
                    headers={"X-Model-Name": holder.name, "X-Model-Version": current.version})
