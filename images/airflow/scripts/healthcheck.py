"""Health checks for Airflow's triggerer, dag-processor and Celery workers, without importing Airflow.

    python healthcheck.py job TriggererJob       # this host's job heartbeats recently
    python healthcheck.py celery                 # this host's Celery worker answers a ping

`airflow jobs check` and `celery --app airflow... inspect ping` prove the same, but each
starts the whole of Airflow (seconds of CPU, every interval, in every container): on a
busy host they time out and a healthy stack looks sick. These read the same settings
(the ``*_CMD`` secret files) and ask the same question with psycopg2 or kombu only.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from urllib.parse import unquote, urlsplit

#: A job whose last heartbeat is older than this is not alive (Airflow's own checks use 30 s by default).
HEARTBEAT_GRACE_S = 60


def setting(option: str) -> str:
    """An Airflow option as the containers set it: ``AIRFLOW__X__Y`` or ``AIRFLOW__X__Y_CMD`` (a command)."""
    if option in os.environ:
        return os.environ[option]
    command = os.environ.get(f"{option}_CMD")
    if not command:
        sys.exit(f"healthcheck: {option} is not set")
    return subprocess.run(shlex.split(command), check=True, capture_output=True, text=True).stdout.strip()


def job_alive(job_type: str, hostname: str) -> bool:
    import psycopg2

    url = urlsplit(setting("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
    with psycopg2.connect(host=url.hostname, port=url.port or 5432, dbname=url.path.lstrip("/"),
                          user=unquote(url.username or ""), password=unquote(url.password or ""),
                          connect_timeout=5) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM job WHERE job_type = %s AND hostname = %s AND state = 'running' "
            "AND latest_heartbeat > now() - make_interval(secs => %s)",
            (job_type, hostname, HEARTBEAT_GRACE_S),
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def celery_answers(hostname: str) -> bool:
    from celery import Celery

    app = Celery(broker=setting("AIRFLOW__CELERY__BROKER_URL"))
    replies = app.control.ping(destination=[f"celery@{hostname}"], timeout=5)
    return any(f"celery@{hostname}" in reply for reply in replies)


def main(argv: list[str]) -> int:
    hostname = os.environ.get("HOSTNAME") or socket.gethostname()
    if argv[:1] == ["job"] and len(argv) == 2:
        alive = job_alive(argv[1], hostname)
    elif argv == ["celery"]:
        alive = celery_answers(hostname)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"healthcheck: {' '.join(argv)} on {hostname}: {'alive' if alive else 'NOT alive'}")
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
