"""Pipeline library for mlplatform's Airflow DAGs (imported by the files in dags/).

Kept out of DAG parsing by dags/.airflowignore; this module and ``settings``
stay free of heavy imports (pandas, scikit-learn, MLflow, matplotlib are
imported inside the functions that need them) so DAG files parse fast.

Names shared with the rest of the platform:

* MLflow experiment ``anomaly-detection``, registered model ``anomaly-detector``,
  alias ``champion`` (moved only when a new version beats it on
  ``holdout_average_precision``; see ``registry``).
* DAG ids ``ingest_data`` -> ``transform_data`` -> ``train_anomaly_model``,
  plus the manual ``mlflow_smoke`` check.
* Assets use the descriptive ``mlplatform://`` scheme rather than ``file://``:
  the data dir is configurable per deployment (``MLPLATFORM_DATA_DIR``), and an
  Asset URI that changed with it would silently cut the producer/consumer link.

  - ``mlplatform://datasets/traffic/raw``: raw hourly traffic data landed: the
    connectors' warehouse table (``ingestion.traffic_table``, by default
    ``landing.traffic_hourly``), or without a warehouse the file
    ``raw/traffic_hourly.csv`` under the data dir.
  - ``mlplatform://datasets/traffic/training``: validated, normalised
    training set: the warehouse table ``analytics.traffic_training``, or the
    file ``prepared/traffic_training.csv``.

Environment read (set by the platform on every Airflow container):
``MLFLOW_TRACKING_URI`` (MLflow reads its credentials file itself),
``MLPLATFORM_DATA_DIR``, ``MLPLATFORM_AIRBYTE_ENABLED``,
``MLPLATFORM_AIRBYTE_CONNECTION_ID``, ``MLPLATFORM_ENVIRONMENT``; on the
containers that run tasks also ``MLPLATFORM_WAREHOUSE_FILE`` and
``MLPLATFORM_INGEST_SOURCES_FILE`` (secret files), ``MLPLATFORM_TRAFFIC_TABLE``
and ``MLPLATFORM_PYAIRBYTE_PYTHON``.
"""
