"""``autorke-lab-rke``: the command line of the rke stand-in, shaped like RKE1's.

    autorke-lab-rke up [--config cluster.yml] [--update-only]
    autorke-lab-rke remove [--config cluster.yml] [--force]
    autorke-lab-rke etcd snapshot-save [--config cluster.yml] [--name NAME]
    autorke-lab-rke etcd snapshot-restore [--config cluster.yml] --name NAME
    autorke-lab-rke cert rotate [--config cluster.yml] [--service S] [--rotate-ca]
    autorke-lab-rke --version

Exit code 0 on success; 1 with a ``FATA[…]`` line on an invalid cluster.yml or a failed
run, as the real tool. Accepted-and-ignored real flags: --ssh-agent-auth,
--ignore-docker-version, --disable-port-check.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import actions
from .config import ConfigError, load
from .output import Console

VERSION = "v1.5.12-autorke-lab"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rke", description="Rancher Kubernetes Engine (lab)")
    parser.add_argument("--version", action="version", version=f"rke version {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", default="cluster.yml")
        for flag in ("--ssh-agent-auth", "--ignore-docker-version", "--disable-port-check"):
            p.add_argument(flag, action="store_true")
        return p

    up = common(sub.add_parser("up"))
    up.add_argument("--update-only", action="store_true")
    rm = common(sub.add_parser("remove"))
    rm.add_argument("--force", action="store_true")
    etcd = sub.add_parser("etcd").add_subparsers(dest="etcd_command", required=True)
    save = common(etcd.add_parser("snapshot-save"))
    save.add_argument("--name", default=None)
    restore = common(etcd.add_parser("snapshot-restore"))
    restore.add_argument("--name", required=True)
    cert = sub.add_parser("cert").add_subparsers(dest="cert_command", required=True)
    rotate = common(cert.add_parser("rotate"))
    rotate.add_argument("--service", default=None)
    rotate.add_argument("--rotate-ca", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    console.info(f"Running RKE version: {VERSION}")
    try:
        config = load(Path(args.config))
        if args.command == "remove" and not args.force:
            answer = input("Are you sure you want to remove Kubernetes cluster [y/n]: ")
            if answer.strip().lower() not in ("y", "yes"):
                return 0
        with actions.Run(config, console) as run:
            if args.command == "up":
                actions.up(run, args.update_only)
            elif args.command == "remove":
                actions.remove(run)
            elif args.command == "etcd" and args.etcd_command == "snapshot-save":
                name = args.name or "rke_etcd_snapshot_" + time.strftime("%Y-%m-%dT%H:%M:%SZ")
                actions.snapshot_save(run, name.removesuffix(".zip"))
            elif args.command == "etcd":
                if args.name.endswith(".zip"):
                    raise actions.RunFailed("snapshot name must not include the .zip extension")
                actions.snapshot_restore(run, args.name)
            else:
                actions.cert_rotate(run, args.service, args.rotate_ca)
    except ConfigError as exc:
        console.fatal(f"Failed to validate cluster: {exc}")
        return 1
    except actions.RunFailed as exc:
        console.fatal(str(exc))
        return 1
    except (OSError, EOFError) as exc:
        console.fatal(f"{type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
