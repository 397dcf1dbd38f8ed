"""``autorke pools …``: Calico IP pools of a cluster through netcfg's public API; what
netcfg refuses (overlaps, block size — DESIGN.md P7) is printed with its problem slug."""
from __future__ import annotations

import argparse

from autorke_console.adapters.rest_client import ApiError
from autorke_console.domain.pool_form import pool_body


def _spec(a: argparse.Namespace, include_name: bool) -> dict:
    form = {"name": a.name, "cidr": a.cidr or "", "block_size": str(a.block_size or ""),
            "ipip_mode": a.ipip_mode, "vxlan_mode": a.vxlan_mode,
            "nat_outgoing": "on" if a.nat_outgoing else "", "node_selector": a.node_selector}
    body, errors = pool_body(form, include_name=include_name)
    if errors:
        raise ApiError(0, {"title": "bad argument", "detail": "; ".join(f"{k}: {v}" for k, v in errors.items())})
    return body


def add_pool_commands(sub, common, run, emit, columns) -> None:
    def path(a: argparse.Namespace, pool: str | None = None) -> str:
        return f"clusters/{a.cluster}/ippools" + (f"/{pool}" if pool else "")

    def parser(name: str, help_: str, func, pool: bool = True, spec: bool = False):
        p = sub.add_parser(name, help=help_)
        common(p)
        p.add_argument("--cluster", required=True)
        if pool:
            p.add_argument("name")
        if spec:
            p.add_argument("--cidr", required=name == "create")
            p.add_argument("--block-size", type=int)
            p.add_argument("--ipip-mode", default="Never", choices=("Never", "Always", "CrossSubnet"))
            p.add_argument("--vxlan-mode", default="Never", choices=("Never", "Always", "CrossSubnet"))
            p.add_argument("--nat-outgoing", action="store_true")
            p.add_argument("--node-selector", default="all()")
        p.set_defaults(func=run(func))

    parser("list", "list a cluster's IP pools (all of them, page after page)",
           lambda c, a: emit(a, c.list_all(path(a)), columns), pool=False)
    parser("show", "one IP pool", lambda c, a: emit(a, c.call("GET", path(a, a.name))))
    parser("create", "create an IP pool (validated by netcfg)",
           lambda c, a: emit(a, c.call("POST", path(a), body=_spec(a, True))), spec=True)
    parser("update", "change an IP pool",
           lambda c, a: emit(a, c.call("PUT", path(a, a.name), body=_spec(a, False))), spec=True)
    parser("delete", "delete an IP pool",
           lambda c, a: emit(a, c.call("DELETE", path(a, a.name)) or {"deleted": a.name}))
    parser("enable", "enable an IP pool", lambda c, a: emit(a, c.call("POST", path(a, a.name) + ":enable")))
    parser("disable", "disable an IP pool", lambda c, a: emit(a, c.call("POST", path(a, a.name) + ":disable")))
