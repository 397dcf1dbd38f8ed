"""The flat-network steps of ``node.add`` (the seed's steps 5 to 7), when the node profile
asks for them: the new nodes are peered with their racks' ToR switches through a VCalico
ticket that netcfg runs, driven by commands and answered by netcfg's ticket events
(:mod:`autorke_orchestrator.service_layer.ticket_answers`):

1. ``net_pool`` (before the first approval): netcfg checks the ticket's pool against the
   cluster (P7), as for an ``ippool.create``;
2. ``net_plan``: netcfg plans the ticket from the nodes just joined, their racks read from
   the labels the join applied (P8: every node checked against the cluster's nodes);
3. ``net_check``: a human checks the plan (an approver, never the requester);
4. ``net_submit``: netcfg sends it to VCalico, and the step waits for VCalico's signed
   callback, checked against the plan (P8, P9);
5. ``net_confirm``: a human confirms the callback (peers, AS numbers, pool);
6. ``net_apply``: netcfg writes the pool, the BGP peers and the nodes' network labels
   (``network.autorke.io/*``), and verifies them.

A ticket refused (by a check, by VCalico, by a callback timeout) leaves the nodes joined and
the change ``partially_failed``; ``:retry`` plans a new ticket for the same nodes and asks
the human check again; ``:continue`` keeps the nodes without the network. Cancelling
reverts what the ticket applied (``netcfg.ticket.revert``: peers, pool, labels); the nodes
are removed too only when the profile says the network is required.
"""
from __future__ import annotations

from typing import Any

from autorke_orchestrator.domain.flow import FlowContext, Job, JobFactory, StepSpec, Targets, action, approval, check
from autorke_orchestrator.domain.flows import ippool

TICKET = "ticket"
SERVICE = "netcfg"
GROUP = "flat network"
#: netcfg fails a ticket whose callback is overdue (its own setting); the step waits longer
CALLBACK_WAIT_S = 2 * 86400.0


def network(ctx: FlowContext) -> dict[str, Any] | None:
    return (ctx.params.get("resolved") or {}).get("network")


def ticket_id(ctx: FlowContext) -> str:
    """The ticket of the current ``net_plan`` attempt: a re-planned ticket is a new one."""
    return f"nt-{ctx.change_id.removeprefix('chg-')}-{ctx.attempts.get('net_plan', 1)}"


def planned(ctx: FlowContext) -> str | None:
    return (ctx.results.get("net_plan", {}).get(TICKET) or {}).get("ticket_id")


def _job(action_: str, timeout_s: float = 300.0, **params: Any) -> Job:
    return Job(SERVICE, f"netcfg.ticket.{action_}", (), params, service=SERVICE, reports=(TICKET,),
               timeout_s=timeout_s)


def pool_spec(net: dict[str, Any]) -> dict[str, Any]:
    return {"cidr": net["cidr"], "blockSize": net["block_size"], "ipipMode": "Never", "vxlanMode": "Never",
            "natOutgoing": False}


def check_pool(ctx: FlowContext, hosts: Targets) -> Job:
    net = network(ctx) or {}
    return Job(SERVICE, "netcfg.ippool.check", (), {"pool": net["pool_name"], "operation": "create",
               "spec": pool_spec(net), "previous": None}, service=SERVICE, reports=(ippool.KUBE_API,),
               timeout_s=120)


def plan_ticket(ctx: FlowContext, hosts: Targets) -> Job:
    net = network(ctx) or {}
    return _job("plan", 120, ticket_id=ticket_id(ctx), cluster=ctx.cluster.name, nodes=sorted(hosts),
                route_reflectors=[h for h in net["route_reflectors"] if h in hosts],
                as_numbers=net["as_numbers"], pool_name=net["pool_name"], pool=pool_spec(net),
                rack_label=net["rack_label"], comment=f"flat network of the nodes {ctx.change_id} adds")


def submit(ctx: FlowContext, hosts: Targets) -> Job:
    return _job("approve", CALLBACK_WAIT_S, ticket_id=planned(ctx), approved_by=ctx.approved_by.get("net_check"))


def confirm(ctx: FlowContext, hosts: Targets) -> Job:
    return _job("confirm", 600, ticket_id=planned(ctx), confirmed_by=ctx.approved_by.get("net_confirm"))


def revert(ctx: FlowContext, hosts: Targets) -> Job:
    """Undo what the ticket applied, or cancel it while open (nothing to do without one)."""
    tid = planned(ctx)
    if not tid:
        return Job(SERVICE, "netcfg.ticket.revert", (), service=SERVICE, reports=())
    return _job("revert", 600, ticket_id=tid)


def keep_nodes(ctx: FlowContext) -> bool:
    """Cancelling after the ticket was asked for keeps the nodes unless the network is required."""
    net = network(ctx)
    return bool(net and not net["required"] and ctx.results.get("net_plan"))


def unless_kept(factory: JobFactory) -> JobFactory:
    """A node step's compensation, passed over when :func:`keep_nodes` says so."""
    def undo(ctx: FlowContext, hosts: Targets) -> Job:
        job = factory(ctx, hosts)
        return Job(job.kind, job.action, (), service=job.service, reports=()) if keep_nodes(ctx) else job
    return undo


def verdict(ctx: FlowContext, results: dict[str, dict[str, Any]]):
    return ippool.verdict(ctx, results)


def _step(id_: str, name: str, job: JobFactory, **kw: Any) -> StepSpec:
    return action(id_, name, job, failure_status="partially_failed", retry_from="net_plan", group=GROUP, **kw)


POOL_CHECK = check("net_pool", "netcfg checks the flat-network pool against the cluster (P7)", job=check_pool,
                   verify=verdict, slug="pool-check-failed")
STEPS: tuple[StepSpec, ...] = (
    _step("net_plan", "plan the flat-network ticket from the new nodes (P8)", plan_ticket, undo=revert),
    approval("net_check", "check the ticket before it goes to VCalico", group=GROUP),
    _step("net_submit", "send the ticket to VCalico and wait for its signed callback", submit,
          irreversible="reverted with the ticket (net_plan's compensation)"),
    approval("net_confirm", "confirm VCalico's answer (peers, AS numbers, pool)", group=GROUP),
    _step("net_apply", "apply the pool, BGP peers and network labels, and verify them", confirm,
          irreversible="reverted with the ticket (net_plan's compensation)"),
)


def diff(ctx: FlowContext) -> list[str]:
    net = network(ctx)
    if not net:
        return []
    lines = [(f"+ippool {net['pool_name']}: cidr {net['cidr']}, blockSize {net['block_size']}, "
             "ipipMode Never, vxlanMode Never (after the ticket's confirmation)"),
             "+flat-network ticket to VCalico for " + ", ".join(sorted(ctx.targets))
             + f" (racks from {net['rack_label']}; human check before sending)"]
    if net["route_reflectors"]:
        lines.append("+route reflectors: " + ", ".join(net["route_reflectors"]))
    return lines
