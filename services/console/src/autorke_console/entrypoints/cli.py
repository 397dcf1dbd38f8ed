"""``autorke machines|changes|pools``: the operator's CLI, speaking only the public REST
API through the console (``--api`` / ``AUTORKE_API``) with a bearer token (``--token`` /
``AUTORKE_TOKEN``, e.g. ``$(autorke lab token operator)``). Tables for people, ``-o json``
for scripts. Registered in the ``autorke`` command through the ``autorke.commands``
entry-point group."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from autorke_console.adapters.rest_client import ApiError, RestClient
from autorke_console.domain.actions import parse_labels, parse_taints
from autorke_console.entrypoints import cli_output as out

MACHINE_COLUMNS = ("id", "hostname", "ip", "state", "cluster", "roles", "network.rack", "hardware.gpu.model")
CHANGE_COLUMNS = ("id", "type", "status", "cluster", "targets", "requested_by")
POOL_COLUMNS = ("name", "cidr", "blockSize", "disabled", "spec.cidr", "spec.blockSize", "spec.disabled")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api", default=os.environ.get("AUTORKE_API", "http://127.0.0.1:8080"),
                   help="console base URL (env AUTORKE_API; default %(default)s)")
    p.add_argument("--token", default=os.environ.get("AUTORKE_TOKEN"),
                   help="bearer token (env AUTORKE_TOKEN)")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table")


def _run(fn: Callable[[RestClient, argparse.Namespace], object]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        client = RestClient(args.api, args.token)
        try:
            return int(fn(client, args) or 0)
        except ApiError as exc:
            slug = f" [{exc.slug}]" if exc.slug else ""
            print(f"autorke: {exc.status or 'error'}{slug}: {exc}", file=sys.stderr)
            for error in exc.problem.get("errors") or []:
                print(f"  {'.'.join(map(str, error.get('loc', [])))}: {error.get('msg')}", file=sys.stderr)
            return 1
        finally:
            client.close()
    return run


def _emit(args: argparse.Namespace, data: object, columns: tuple[str, ...] | None = None,
          text: Callable[[object], str] | None = None) -> None:
    if args.output == "json":
        print(out.as_json(data))
    elif text is not None:
        print(text(data))
    elif columns is not None:
        rows = data["items"]  # a list answer, {"items", "next_cursor"} like every list of the API
        shown = tuple(c for c in columns if any(out._get(r, c) is not None for r in rows)) or columns
        print(out.table(rows, shown))
    else:
        print(out.as_json(data))


# -- machines -------------------------------------------------------------------------
def _machines_list(c: RestClient, a: argparse.Namespace) -> None:
    data = c.call("GET", "machines", params={"cluster": a.cluster, "state": a.state, "role": a.role,
                                             "gpu_model": a.gpu_model, "rack": a.rack, "q": a.q, "sort": a.sort,
                                             "limit": a.limit, "cursor": a.cursor})
    _emit(a, data, MACHINE_COLUMNS)
    if a.output == "table" and data["next_cursor"]:
        print(f"(more: --cursor {data['next_cursor']})")


def _machines_show(c: RestClient, a: argparse.Namespace) -> None:
    _emit(a, c.call("GET", f"machines/{a.machine}"))


# -- changes --------------------------------------------------------------------------
def _change_body(a: argparse.Namespace) -> dict:
    params: dict = {}
    if a.role:
        params["role"] = a.role
    if a.label:
        params["labels"] = parse_labels("\n".join(a.label))
    if a.taint:
        params["taints"] = parse_taints("\n".join(a.taint))
    for item in a.param or []:
        key, _, value = item.partition("=")
        params[key] = value
    body = {"type": a.type, "targets": [t for arg in a.targets for t in arg.split(",") if t],
            "params": params, "dry_run": a.dry_run}
    if a.cluster:
        body["cluster"] = a.cluster
    return body


def _changes_create(c: RestClient, a: argparse.Namespace) -> None:
    try:
        body = _change_body(a)
    except ValueError as exc:
        raise ApiError(0, {"title": "bad argument", "detail": str(exc)}) from None
    _emit(a, c.call("POST", "changes", body=body), text=out.plan_text)


def _changes_list(c: RestClient, a: argparse.Namespace) -> None:
    _emit(a, c.call("GET", "changes", params={"status": a.status, "cluster": a.cluster, "limit": a.limit}),
          CHANGE_COLUMNS)


def _changes_show(c: RestClient, a: argparse.Namespace) -> None:
    _emit(a, c.call("GET", f"changes/{a.change}"), text=lambda d: out.plan_text(d) + "\n" + out.progress_text(d))


def _waiting_step(change: dict) -> str | None:
    for step in change.get("steps") or (change.get("plan") or {}).get("steps") or []:
        if step.get("status") in ("awaiting_approval", "waiting"):
            return step.get("id")
    return None


def _decide(decision: str) -> Callable[[RestClient, argparse.Namespace], None]:
    def decide(c: RestClient, a: argparse.Namespace) -> None:
        change = c.call("GET", f"changes/{a.change}")
        step = a.step or _waiting_step(change)
        if step is None:
            raise ApiError(0, {"title": "nothing to decide", "detail": f"change {a.change} has no step awaiting "
                               f"approval (status {change.get('status')})"})
        _emit(a, c.call("POST", f"changes/{a.change}/approvals",
                        body={"step": step, "decision": decision, "comment": a.comment or ""}),
              text=lambda d: f"{decision}d step {step} of {a.change}")
    return decide


def _verb(verb: str) -> Callable[[RestClient, argparse.Namespace], None]:
    def act(c: RestClient, a: argparse.Namespace) -> None:
        _emit(a, c.call("POST", f"changes/{a.change}:{verb}", body={} if verb == "retry" else None),
              text=lambda d: f"{verb}: {a.change} -> {(d or {}).get('status', 'requested')}")
    return act


def _changes_watch(c: RestClient, a: argparse.Namespace) -> int:
    from autorke_console.entrypoints.cli_watch import watch

    return watch(c, a.change, json_lines=a.output == "json")


# -- registration ---------------------------------------------------------------------
def register(subparsers) -> None:
    _register_machines(subparsers)
    _register_changes(subparsers)
    _register_pools(subparsers)


def _group(subparsers, name: str, help_: str):
    parser = subparsers.add_parser(name, help=help_)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")


def _register_machines(subparsers) -> None:
    sub = _group(subparsers, "machines", "the machine inventory (through the public API)")
    p = sub.add_parser("list", help="list machines (server-side filter, sort, paging)")
    _common(p)
    for flag in ("cluster", "state", "role", "gpu-model", "rack", "q", "sort", "cursor"):
        p.add_argument(f"--{flag}")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=_run(_machines_list))
    p = sub.add_parser("show", help="one machine with its four facets")
    _common(p)
    p.add_argument("machine", help="machine id or hostname")
    p.set_defaults(func=_run(_machines_show))


def _register_changes(subparsers) -> None:
    sub = _group(subparsers, "changes", "change requests: plan, approve, retry, cancel, watch")
    p = sub.add_parser("create", help="request a change (--dry-run prints the plan and blast radius only)")
    _common(p)
    p.add_argument("--type", required=True, help="e.g. node.add, node.remove, machine.init")
    p.add_argument("--cluster")
    p.add_argument("--targets", action="append", default=[], required=True, help="m001,m002 (repeatable)")
    p.add_argument("--role")
    p.add_argument("--label", action="append", help="key=value (repeatable)")
    p.add_argument("--taint", action="append", help="key=value:Effect (repeatable)")
    p.add_argument("--param", action="append", help="key=value (repeatable)")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=_run(_changes_create))
    p = sub.add_parser("list", help="list changes")
    _common(p)
    p.add_argument("--status")
    p.add_argument("--cluster")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=_run(_changes_list))
    for name, func, help_ in (("show", _changes_show, "a change's plan and progress"),
                              ("watch", _changes_watch, "follow a change live until it ends")):
        p = sub.add_parser(name, help=help_)
        _common(p)
        p.add_argument("change")
        p.set_defaults(func=_run(func))
    for name, func, help_ in (("approve", _decide("approve"), "approve the step awaiting approval"),
                              ("reject", _decide("reject"), "reject the step awaiting approval")):
        p = sub.add_parser(name, help=help_)
        _common(p)
        p.add_argument("change")
        p.add_argument("--step", help="default: the step awaiting approval")
        p.add_argument("--comment")
        p.set_defaults(func=_run(func))
    for verb, help_ in (("retry", "re-run the failed targets only"), ("continue", "go on past failed targets"),
                        ("cancel", "cancel the change")):
        p = sub.add_parser(verb, help=help_)
        _common(p)
        p.add_argument("change")
        p.set_defaults(func=_run(_verb(verb)))


def _register_pools(subparsers) -> None:
    from autorke_console.entrypoints.cli_pools import add_pool_commands

    sub = _group(subparsers, "pools", "Calico IP pools of a cluster")
    add_pool_commands(sub, _common, _run, _emit, POOL_COLUMNS)
