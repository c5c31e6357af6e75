"""MLflow's deploy-time job, run before the server on every deploy.

    python mlflow_init.py upgrade --uri-file /run/secrets/mlflow-backend-store-uri
    MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/basic_auth.ini python mlflow_init.py users \\
        --user admin:/run/secrets/mlflow-admin-password:admin \\
        --user airflow:/run/secrets/mlflow-airflow-password:user \\
        --grant airflow:experiment:anomaly-detection --grant airflow:registered_model:anomaly-detector \\
        --tracking-uri-file /run/secrets/mlflow-backend-store-uri

``upgrade`` migrates the tracking schema (`mlflow db upgrade`, run in-process so the
database URI, password included, is read from a file and never on a command line):
MLflow refuses to start on a schema older than its version.

``check`` says whether the schema is at this MLflow's version (exit 3 if not), without
changing it: `make doctor` asks the running server's image.

``users``: each user is created, or gets the generated password back (the server only
sets the admin's password when it first creates it, so a redeploy with new secrets
would lock the platform out), and the admin flag it should have. Passwords are read from files,
never from arguments or the environment. ``--grant`` gives a user EDIT on an
experiment or registered model that already exists (one an admin created, e.g.
before the pipelines had a user of their own); new ones are the creator's anyway.
It works against the auth database directly, with the server stopped or running.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlflow.server.auth.config import read_auth_config
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

EDIT = "EDIT"


def read_password(path: str) -> str:
    password = Path(path).read_text().rstrip("\r\n")
    if len(password) < 12:
        sys.exit(f"mlflow-init: the password in {path} is missing or shorter than MLflow's 12 characters")
    return password


def ensure_user(store: SqlAlchemyStore, username: str, password: str, is_admin: bool) -> str:
    if not store.has_user(username, use_primary=True):
        store.create_user(username, password, is_admin=is_admin)
        return "created"
    changes = []
    if not store.authenticate_user(username, password, use_primary=True):
        store.update_user(username, password=password)
        changes.append("password re-asserted")
    if store.get_user(username).is_admin != is_admin:
        store.update_user(username, is_admin=is_admin)
        changes.append(f"admin={is_admin}")
    return ", ".join(changes) or "unchanged"


def grant_edit(store: SqlAlchemyStore, tracking_uri: str, username: str, kind: str, name: str) -> str:
    """EDIT for ``username`` on an existing experiment or registered model (found by name in the tracking store)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if kind == "experiment":
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            return "does not exist yet"
        key = experiment.experiment_id
        get, create, update = (store.get_experiment_permission, store.create_experiment_permission,
                               store.update_experiment_permission)
    else:
        if not client.search_registered_models(filter_string=f"name = '{name}'"):
            return "does not exist yet"
        key = name
        get, create, update = (store.get_registered_model_permission, store.create_registered_model_permission,
                               store.update_registered_model_permission)
    try:
        current = get(key, username).permission
    except Exception:  # no grant yet
        create(key, username, EDIT)
        return "EDIT granted"
    if current in (EDIT, "MANAGE"):
        return f"already {current}"
    update(key, username, EDIT)
    return "EDIT granted"


def upgrade(uri_file: Path) -> None:
    """`mlflow db upgrade <uri>`, with the URI from a file; a failure exits non-zero (and fails the deploy)."""
    from mlflow.db import commands

    uri = uri_file.read_text().strip()
    commands.main(["upgrade", uri], standalone_mode=False)
    print("mlflow-init: tracking schema is at MLflow's version")


def check(uri_file: Path) -> int:
    """0 if the tracking schema is at this MLflow's head revision; 3 (and what to do) if it is not."""
    import mlflow
    from mlflow.store.db.utils import _get_latest_schema_revision, _get_schema_version
    from sqlalchemy import create_engine

    engine = create_engine(uri_file.read_text().strip())
    try:
        current, head = _get_schema_version(engine), _get_latest_schema_revision()
    finally:
        engine.dispose()
    if current == head:
        print(f"mlflow-init: tracking schema {current} is MLflow {mlflow.__version__}'s")
        return 0
    print(f"mlflow-init: tracking schema {current}, MLflow {mlflow.__version__} expects {head}")
    return 3


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    upgrade_step = steps.add_parser("upgrade", help="migrate the tracking schema")
    upgrade_step.add_argument("--uri-file", required=True, type=Path)
    check_step = steps.add_parser("check", help="is the tracking schema at this MLflow's version? (exit 3 if not)")
    check_step.add_argument("--uri-file", required=True, type=Path)
    users_step = steps.add_parser("users", help="create or re-assert the basic-auth users")
    users_step.add_argument("--user", action="append", default=[], help="name:password_file:admin|user")
    users_step.add_argument("--grant", action="append", default=[], help="user:experiment|registered_model:name")
    users_step.add_argument("--tracking-uri-file", help="file holding the backend store URI (for --grant)")
    args = parser.parse_args(argv)
    if args.step == "upgrade":
        upgrade(args.uri_file)
        return 0
    if args.step == "check":
        return check(args.uri_file)
    config = read_auth_config()
    store = SqlAlchemyStore()
    store.init_db(config.database_uri)  # creates or migrates the auth schema
    for spec in args.user:
        username, password_file, role = spec.split(":")
        if role not in ("admin", "user"):
            sys.exit(f"mlflow-init: role of {username} must be admin or user, got {role}")
        print(f"mlflow-init: {username}: {ensure_user(store, username, read_password(password_file), role == 'admin')}")
    if args.grant:
        if not args.tracking_uri_file:
            sys.exit("mlflow-init: --grant needs --tracking-uri-file")
        tracking_uri = Path(args.tracking_uri_file).read_text().strip()
        for spec in args.grant:
            username, kind, name = spec.split(":", 2)
            print(f"mlflow-init: {username} on {kind} {name}: {grant_edit(store, tracking_uri, username, kind, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
