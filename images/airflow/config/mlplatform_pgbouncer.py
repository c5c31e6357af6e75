"""Connect arguments for Airflow's async database engine behind PgBouncer in transaction mode.

Airflow imports this by name (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC``); ``$AIRFLOW_HOME/config``
is on its import path. PgBouncer 1.18 cannot keep server-side prepared statements across transactions,
so psycopg must never prepare one.
"""

ASYNC = {"prepare_threshold": None}
