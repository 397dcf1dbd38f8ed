"""``autorke lab token USER``: a lab user's bearer token, alone on stdout, for scripts and
tests (``curl -H "Authorization: Bearer $(autorke lab token admin)" ...``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .keys import UnknownUser, issue_token


def add_token_command(sub, default_state_dir: Path) -> None:
    p = sub.add_parser("token", help="print a lab user's bearer token (viewer, operator, "
                                     "operator2, approver, admin)")
    p.add_argument("user")
    p.add_argument("--state-dir", type=Path, default=default_state_dir,
                   help="the lab's state directory (default: %(default)s)")
    p.set_defaults(func=_token)


def _token(args: argparse.Namespace) -> int:
    try:
        print(issue_token(args.user, Path(args.state_dir) / "idp"))
    except (UnknownUser, FileNotFoundError) as exc:
        print(f"autorke lab token: {exc.args[0]}", file=sys.stderr)
        return 1
    return 0
