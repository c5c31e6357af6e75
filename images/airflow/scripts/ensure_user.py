"""Create an Airflow (FAB) user, or make an existing one match: role, active, and the password in a file.

    python ensure_user.py --username admin --role Admin --email admin@example.org \\
        --password-file /run/secrets/airflow-admin-password

`airflow users create` leaves an existing user's password alone and takes the password
on its command line (visible to `ps`); this reads it from a file and re-asserts it on
every deploy. The password is reset only when it differs, because a reset signs the
user out of the UI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--username", required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--password-file", required=True, type=Path)
    args = parser.parse_args(argv)
    password = args.password_file.read_text().rstrip("\r\n")
    if not password:
        sys.exit(f"ensure-user: {args.password_file} is empty")

    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        role = security.find_role(args.role)
        if role is None:
            sys.exit(f"ensure-user: no role {args.role!r}; roles: {[r.name for r in security.get_all_roles()]}")
        user = security.find_user(username=args.username)
        if user is None:
            if not security.add_user(args.username, args.username, "user", args.email, role, password):
                sys.exit(f"ensure-user: could not create {args.username}")
            print(f"ensure-user: created {args.username} ({args.role})")
            return 0
        if role not in user.roles or not user.active:
            user.roles, user.active = [role], True
            if not security.update_user(user):
                sys.exit(f"ensure-user: could not update {args.username}")
            print(f"ensure-user: {args.username} has role {args.role} and is active")
        if security.check_password(args.username, password):
            print(f"ensure-user: {args.username}'s password is the generated one")
        elif security.reset_password(user.id, password):
            print(f"ensure-user: {args.username}'s password re-asserted")
        else:
            sys.exit(f"ensure-user: could not reset {args.username}'s password")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
