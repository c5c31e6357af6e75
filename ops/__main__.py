"""`python -m ops <command> --stack STACK`: what `make backup/restore/rotate/doctor` and the end of `make up` run.

They work on a stack deployed by `make up` (outputs read with the Pulumi CLI, in the
environment the Makefile sets) on the local Docker engine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops import backup, doctor, restore, rotate, status
from ops.stack import from_pulumi
from testing.program import stack_config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("backup", "back up STACK into a dated folder"),
                       ("restore", "restore a backup onto STACK's fresh volumes (deploy afterwards)"),
                       ("rotate", "rotate STACK's generated secrets (deploys)"),
                       ("doctor", "check STACK and name the fix for each problem"),
                       ("status", "one line per service, and the smoke DAG")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--stack", required=True)
        if name == "backup":
            command.add_argument("--out", type=Path, default=Path("backups"))
            command.add_argument("--include-secrets", type=Path, metavar="PASSPHRASE_FILE",
                                 help="also store the credentials, encrypted with a key derived from this file")
        if name == "restore":
            command.add_argument("--backup", type=Path, required=True)
        if name == "rotate":
            command.add_argument("--what", default="all", help=f"all, or some of {', '.join(rotate.KINDS)}")
        if name == "status":
            command.add_argument("--no-smoke", action="store_true", help="skip the smoke DAG")
    args = parser.parse_args(argv)

    if args.command == "rotate":
        config = stack_config(args.stack)
        try:
            chosen = rotate.kinds(args.what)
        except rotate.RotationError as error:
            print(f"make rotate: {error}", file=sys.stderr)
            return 2
        final = rotate.rotate(config, args.stack, chosen, rotate.pulumi_deploy(args.stack, config))
        print(f"{args.stack}: rotated {', '.join(chosen)} (rotation: {final}); "
              f"`make doctor STACK={args.stack}` checks the result")
        return 0

    handle = from_pulumi(args.stack)
    if args.command == "backup":
        folder = backup.backup(handle, args.out, args.include_secrets)
        print(f"{args.stack}: backed up into {folder}")
        return 0
    if args.command == "restore":
        try:
            restore.restore(handle, args.backup)
        except restore.RestoreError as error:
            print(f"make restore: {error}", file=sys.stderr)
            return 1
        print(f"{args.stack}: restored {args.backup}; deploy it now")
        return 0
    if args.command == "doctor":
        findings = doctor.diagnose(handle)
        print(doctor.report(handle, findings))
        return 1 if findings else 0
    ok, text = status.status(handle, smoke=not args.no_smoke)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
