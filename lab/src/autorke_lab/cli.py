"""``autorke lab …``: start, stop, inspect and break the lab.

``register(subparsers)`` is the ``autorke.commands`` entry point; each sub-command is a
small ``_add_<name>(sub)`` function that adds its parser and sets ``func(args) -> int``,
so adding one (``token``, say) is one more function and one line in ``register``.
``python -m autorke_lab …`` runs the same sub-commands without the ``autorke`` wrapper.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .demo import add_demo_command
from .idp.cli import add_token_command
from .runtime import COMPONENTS, DEFAULT_STATE_DIR, Lab, LabConfig, read_state


def register(subparsers) -> None:
    parser = subparsers.add_parser("lab", help="the simulated data centre (machines, CMDB, …)")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
    sub = parser.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    add_subcommands(sub)


def add_subcommands(sub) -> None:
    _add_up(sub)
    _add_down(sub)
    _add_status(sub)
    _add_fault(sub)
    _add_commands(sub)
    add_token_command(sub, DEFAULT_STATE_DIR)
    add_demo_command(sub, DEFAULT_STATE_DIR)


def _state_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help="where the lab keeps its state (default: %(default)s)")


# -- up ------------------------------------------------------------------------------------
def _add_up(sub) -> None:
    p = sub.add_parser("up", help="start the lab (foreground until Ctrl-C, or --detach)")
    p.add_argument("-n", "--machines", type=int, default=24, help="machine count (default 24)")
    p.add_argument("--seed", type=int, default=1, help="seed of all simulated facts")
    p.add_argument("--address-base", default="127.0.1.1", help="first machine address")
    p.add_argument("--host", default="127.0.0.1", help="address of the CMDB/control HTTP server")
    p.add_argument("--cmdb-port", type=int, default=8201)
    p.add_argument("--cmdb-size", type=int, default=10_000, help="CMDB records (running + records only)")
    p.add_argument("--bastion", type=int, default=0, metavar="N",
                   help="also N machines reachable only through a bastion (network namespaces)")
    p.add_argument("--isolation", choices=["auto", "namespaces", "plain"], default="auto")
    p.add_argument("--only", metavar="NAMES", help="run only these components (comma-separated, "
                   "e.g. machines,cmdb)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="option for another lab component (repeatable)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--foreground", action="store_true", help="run in this process (default)")
    mode.add_argument("--detach", action="store_true", help="run in the background; `lab down` ends it")
    _state_dir_arg(p)
    p.set_defaults(func=_up)


def _config(args) -> LabConfig:
    options = dict(item.split("=", 1) for item in args.set)
    return LabConfig(machines=args.machines, seed=args.seed, address_base=args.address_base,
                     host=args.host, cmdb_port=args.cmdb_port, cmdb_size=args.cmdb_size,
                     bastion_inner=args.bastion, isolation=args.isolation,
                     state_dir=args.state_dir, options=options)


def _up(args) -> int:
    running = read_state(args.state_dir)
    if running:
        print(f"lab already running (pid {running['pid']}); `autorke lab down` first", file=sys.stderr)
        return 1
    if not args.detach:
        components = [f() for f in COMPONENTS]
        if args.only:
            wanted = set(args.only.split(","))
            components = [c for c in components if c.name in wanted]
        return Lab(_config(args), components).serve_forever()
    return _up_detached(args)


def _up_detached(args) -> int:
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [a for a in sys.argv[1:] if a != "--detach"]
    if argv[:1] == ["lab"]:
        argv = argv[1:]
    argv = [sys.executable, "-m", "autorke_lab", *argv, "--foreground"]
    with open(state_dir / "lab.log", "ab") as out:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 start_new_session=True)
    while True:
        state = read_state(state_dir)
        if state and state.get("pid") == child.pid and state.get("ready"):
            _print_summary(state)
            return 0
        if child.poll() is not None:
            tail = (state_dir / "lab.log").read_text(errors="replace")[-3000:]
            print(f"lab failed to start (exit {child.returncode}):\n{tail}", file=sys.stderr)
            return 1
        time.sleep(0.1)


def _print_summary(state: dict) -> None:
    ssh = state.get("ssh", {})
    print(f"lab running (pid {state['pid']}); CMDB {state['cmdb_url']}; "
          f"control {state['control_url']}")
    print(f"ssh: user {ssh.get('user')}, key {ssh.get('private_key')}")
    for n in state.get("notices", []):
        print(n)
    for m in state.get("machines", []):
        via = f" via {m['bastion']}" if m.get("bastion") else ""
        print(f"  {m['name']:<10} {m['address']}:{m['port']}{via}  {m['host_key']}")


# -- down ----------------------------------------------------------------------------------
def _add_down(sub) -> None:
    p = sub.add_parser("down", help="stop a detached lab")
    _state_dir_arg(p)
    p.set_defaults(func=_down)


def _down(args) -> int:
    state = read_state(args.state_dir)
    if not state:
        print("lab is not running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print(f"lab stopped (pid {pid})")
            return 0
        time.sleep(0.1)
    print(f"lab (pid {pid}) did not stop within 60 s", file=sys.stderr)
    return 1


# -- status --------------------------------------------------------------------------------
def _add_status(sub) -> None:
    p = sub.add_parser("status", help="addresses, credentials and faults of the running lab")
    p.add_argument("--json", action="store_true", help="machine-readable (the state.json format)")
    _state_dir_arg(p)
    p.set_defaults(func=_status)


def live_state(state_dir: Path) -> dict | None:
    """The running lab's status from its control API, else from its state file."""
    state = read_state(state_dir)
    if not state:
        return None
    import httpx

    try:
        return httpx.get(f"{state['control_url']}/status", timeout=5).json()
    except httpx.HTTPError:
        return state


def _status(args) -> int:
    state = live_state(args.state_dir)
    if args.json:
        print(json.dumps(state or {"running": False}, indent=2))
        return 0 if state else 1
    if not state:
        print("lab is not running")
        return 1
    _print_summary(state)
    return 0


# -- fault ---------------------------------------------------------------------------------
def _add_fault(sub) -> None:
    p = sub.add_parser("fault", help="set or clear a fault on a machine")
    p.add_argument("machine")
    p.add_argument("kind", help="unreachable, slow_handshake, hang, command_fails, disk_full, "
                                "host_key_rotated, clock_skew (or 'all' with --clear)")
    p.add_argument("--clear", action="store_true")
    p.add_argument("--seconds", type=float, help="slow_handshake delay / clock_skew offset")
    p.add_argument("--exit-code", type=int, help="command_fails exit code")
    p.add_argument("--message", help="command_fails message")
    _state_dir_arg(p)
    p.set_defaults(func=_fault)


def _fault(args) -> int:
    import httpx

    state = read_state(args.state_dir)
    if not state:
        print("lab is not running", file=sys.stderr)
        return 1
    base = f"{state['control_url']}/machines/{args.machine}/faults"
    if args.clear:
        r = httpx.delete(base if args.kind == "all" else f"{base}/{args.kind}", timeout=30)
    else:
        params = {k: v for k, v in {"seconds": args.seconds, "exit_code": args.exit_code,
                                    "message": args.message}.items() if v is not None}
        r = httpx.put(f"{base}/{args.kind}", json=params, timeout=30)
    if r.status_code >= 400:
        print(f"fault: {r.json().get('detail', r.text)}", file=sys.stderr)
        return 1
    print(json.dumps(r.json()["faults"]))
    return 0


# -- commands ------------------------------------------------------------------------------
def _add_commands(sub) -> None:
    p = sub.add_parser("commands", help="commands a machine received over SSH")
    p.add_argument("machine")
    _state_dir_arg(p)
    p.set_defaults(func=_commands)


def _commands(args) -> int:
    from .machines.commandlog import read_command_log

    state = read_state(args.state_dir)
    machine = next((m for m in (state or {}).get("machines", []) if m["name"] == args.machine), None)
    if machine is None:
        print(f"no running lab machine {args.machine!r}", file=sys.stderr)
        return 1
    for r in read_command_log(Path(machine["command_log"])):
        print(f"{r.time:.3f} {r.client} {r.command!r}")
    return 0
