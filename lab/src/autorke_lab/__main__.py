"""``python -m autorke_lab up|down|status|fault …``: the ``autorke lab`` commands without the
``autorke`` wrapper (``autorke up`` starts the lab as a child process this way)."""
from __future__ import annotations

import argparse
import logging
import sys

from .cli import add_subcommands


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m autorke_lab")
    add_subcommands(parser.add_subparsers(dest="lab_command", metavar="LAB_COMMAND"))
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
