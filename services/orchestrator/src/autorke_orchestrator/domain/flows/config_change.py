"""What ``config.update``, ``config.import`` and ``config.rollback`` share (H1, H2): a config
write asked for through the inventory's REST API, kept there as a sealed *proposal*; the
change names it by id and digest only (the orchestrator never holds its content: an
rkestate holds every key of the cluster, and the orchestrator has no secret key).

Steps: ``preview`` asks the inventory for the real unified diff of the result against the
current version (redacted; for an rkestate which certificates and CAs change, by
digest), shown in that step's results on the change; ``approve`` needs an ``approver``, or
an ``admin`` when an rkestate or a kubeconfig is written (the cluster's keys and
credentials); ``adopt`` has the inventory make the proposal current, as versions tagged
with this change's id (the only versions the orchestrator hands to ``rke``).

Nothing on a machine changes here: the next ``rke up`` of a later change applies the
config. ``adopt`` has no compensation: it stores new versions and the previous ones stay;
a ``config.rollback`` change (approved like this one) restores one."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import Flow, FlowContext, Job, StepSpec, Targets, action, check

#: kinds whose change an admin approves
ADMIN_KINDS = frozenset({"cluster.rkestate", "kubeconfig"})
ADOPT_IRREVERSIBLE = ("new versions; the previous ones stay, and a config.rollback change (approved like this "
                      "one) restores one")
CONFIG = ("config",)
NOTHING_ON_MACHINES = "nothing changes on the machines now: the next rke up of a later change applies the config"


def _ids(ctx: FlowContext) -> dict:
    return {"cluster": ctx.cluster.name, "proposal": ctx.params.get("proposal"), "digest": ctx.params.get("digest")}


def preview(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("inventory", "inventory.config.preview", (), _ids(ctx), service="inventory", reports=CONFIG)


def adopt(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("inventory", "inventory.config.adopt", (), _ids(ctx), service="inventory", reports=CONFIG)


def needs_admin(ctx: FlowContext) -> bool:
    return bool(ADMIN_KINDS & set(ctx.params.get("kinds") or []))


def gates(what: str) -> tuple[StepSpec, StepSpec]:
    """One approval gate or the other is skipped: an admin's when keys or credentials are
    written, an approver's otherwise."""
    return (StepSpec("approve", f"approve {what}", "approval", approver="approver",
                     select=lambda c, t: [] if needs_admin(c) else list(CONFIG)),
            StepSpec("approve_admin", f"approve {what} (it writes the cluster's keys: admin)", "approval",
                     approver="admin", select=lambda c, t: list(CONFIG) if needs_admin(c) else []))


def plan_text(ctx: FlowContext, what: str) -> str:
    kinds = ", ".join(ctx.params.get("kinds") or [])
    return (f"{what} of {ctx.cluster.name} ({kinds}), proposal {ctx.params.get('proposal')} "
            f"({ctx.params.get('digest')}).\nThe real unified diff of the result against the current version "
            "(redacted) is in the results of step 'preview': the inventory computes it, the orchestrator never "
            "sees the content.")


def flow(type_: str, what: str, warnings: list[str] | None = None) -> Flow:
    return Flow(
        type=type_, provider=None, policy="manual",
        blast_radius=lambda ctx: ([], sorted(k for k in ctx.params.get("kinds") or []) + ["config versions"]),
        config_diff=lambda ctx: plan_text(ctx, what),
        warnings=lambda ctx: [*(warnings or []), NOTHING_ON_MACHINES],
        steps=(
            check("preview", "preview the result (redacted diff against the current version)", job=preview),
            *gates(what),
            action("adopt", "adopt it as the current config", adopt, irreversible=ADOPT_IRREVERSIBLE,
                   writes_config=True),
        ),
    )
