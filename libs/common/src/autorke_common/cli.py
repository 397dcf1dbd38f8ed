"""The one ``autorke`` command.

Each installed package contributes its own sub-commands through the entry-point group
``autorke.commands``: the value is a ``register(subparsers)`` function that adds an
argparse sub-parser and sets ``func`` (taking the parsed args, returning an exit code).
So the command grows with what is installed, and no package imports another to do it.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autorke", description="AutoRKE control plane")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="autorke.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the command down
            print(f"autorke: commands of {ep.value!r} unavailable: {exc}", file=sys.stderr)
            continue
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
