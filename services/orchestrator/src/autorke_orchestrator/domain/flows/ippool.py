"""``ippool.create``, ``ippool.update``, ``ippool.delete``, ``ippool.enable``,
``ippool.disable`` (DESIGN.md section 3): an IP pool is written only by an approved change.

Three steps, all through netcfg (the only service that writes Calico pools):

1. ``check``: netcfg judges the change against the cluster as it is (P7: host networks,
   service and pod CIDR, reserved ranges, other pools, block size; CIDR and block size
   immutable; and that the pool is still what the change was planned against) and
   answers the pool before and after it, or the violations with their slugs: the first
   violation refuses the change before anything is touched.
2. ``approve``: an approver who is not the requester.
3. ``apply``: netcfg writes the pool (checked again under the cluster's pool lock); its
   compensation puts back what the check found (deletes the pool a create made, restores
   the previous spec), and only if the pool is still what the apply wrote.

The plan's config diff is the pool spec before and after, from the params: the spec asked
for and ``previous``, the spec netcfg read when it took the request (a change created
directly on the orchestrator's API without ``previous`` shows the requested spec only;
the check then judges against the live pool). Nothing here touches a machine: the blast
radius names no host, only the pool."""
from __future__ import annotations

from typing import Any

from autorke_common.errors import Conflict
from autorke_orchestrator.domain.flow import Flow, FlowContext, Job, Targets, Violation, action, approval, check

OPERATIONS = ("create", "update", "delete", "enable", "disable")
#: where netcfg's answers are reported (a pseudo target: no host is touched)
KUBE_API = "kube-api"
SERVICE = "netcfg"


def operation(ctx: FlowContext) -> str:
    return ctx.type.rpartition(".")[2]


def wanted(ctx: FlowContext) -> dict[str, Any] | None:
    """The spec the change asks for, as far as the params tell (None: no pool after it)."""
    op, previous = operation(ctx), ctx.params.get("previous")
    if op in ("create", "update"):
        return ctx.params.get("spec")
    if op == "delete":
        return None
    return {**previous, "disabled": op == "disable"} if previous else {"disabled": op == "disable"}


def _job(ctx: FlowContext, action_: str, **params: Any) -> Job:
    return Job(SERVICE, f"netcfg.ippool.{action_}", (), {"pool": ctx.params["name"], **params},
               service=SERVICE, reports=(KUBE_API,), timeout_s=120)


def _checked(ctx: FlowContext) -> dict[str, Any]:
    """The check step's answer: the pool ``before`` and ``after`` the change, live."""
    return (ctx.results.get("check", {}) if ctx.results else {}).get(KUBE_API) or {}


def check_job(ctx: FlowContext, hosts: Targets) -> Job:
    return _job(ctx, "check", operation=operation(ctx), spec=ctx.params.get("spec"),
                previous=ctx.params.get("previous"))


def verdict(ctx: FlowContext, results: dict[str, dict[str, Any]]) -> Violation | None:
    """The first violation netcfg found, with its slug (None: the change may go ahead)."""
    found = (results.get(KUBE_API) or {}).get("violations") or []
    if not found:
        return None
    first = found[0]
    return Violation(str(first.get("slug") or "pool-check-failed"), str(first.get("detail") or ""),
                     refusal=Conflict)


def apply_job(ctx: FlowContext, hosts: Targets) -> Job:
    seen = _checked(ctx)
    return _job(ctx, "apply", operation=operation(ctx), before=seen.get("before"), after=seen.get("after"))


def restore_job(ctx: FlowContext, hosts: Targets) -> Job:
    """Put back what the check found, provided the pool is what the apply wrote."""
    seen = _checked(ctx)
    return _job(ctx, "apply", operation="restore", before=seen.get("after"), after=seen.get("before"))


def has_name(ctx: FlowContext) -> Violation | None:
    return None if ctx.params.get("name") else Violation("invalid-params", "params.name is required")


FIELDS = ("cidr", "blockSize", "ipipMode", "vxlanMode", "natOutgoing", "disabled", "nodeSelector",
          "disableBGPExport")


def _line(sign: str, key: str, value: Any) -> str:
    return f"{sign} {key}: {str(value).lower() if isinstance(value, bool) else value}"


def config_diff(ctx: FlowContext) -> str:
    """The pool spec before (``-``) and after (``+``), unchanged fields as context."""
    name, op = ctx.params.get("name"), operation(ctx)
    before, after = ctx.params.get("previous"), wanted(ctx)
    lines = [f"ippool {name} ({op}) in cluster {ctx.cluster.name if ctx.cluster else '?'}"]
    if before is None and op != "create":
        lines.append("  (the spec before is read by netcfg's check)")
    keys = [k for k in FIELDS if k in (before or {}) or k in (after or {})]
    for key in keys:
        old, new = (before or {}).get(key), (after or {}).get(key)
        if before is not None and after is not None and old == new:
            lines.append(_line(" ", key, old))
            continue
        if before is not None and key in before:
            lines.append(_line("-", key, old))
        if after is not None and key in after:
            lines.append(_line("+", key, new))
    return "\n".join(lines)


def _flow(op: str) -> Flow:
    return Flow(
        type=f"ippool.{op}", provider=None, policy="manual", validate=has_name, config_diff=config_diff,
        blast_radius=lambda ctx: ([], [f"calico ippool {ctx.params.get('name')}", "netcfg pool record"]),
        steps=(
            check("check", "netcfg checks the pool change against the cluster (P7)", job=check_job,
                  verify=verdict, slug="pool-check-failed"),
            approval("approve", f"approve the pool {op}"),
            action("apply", f"netcfg {op}s the pool in the cluster", apply_job, undo=restore_job),
        ),
    )


FLOWS = {op: _flow(op) for op in OPERATIONS}
