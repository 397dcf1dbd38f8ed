"""netcfg's answers to the ``netcfg.ippool.*`` commands of an ``ippool.*`` change, matched
to the step by ``command_id`` (``<job id>|kube-api``), as step results: the check's verdict
(the pool before and after, and the violations the flow's check refuses on), the apply's
success, or netcfg's refusal (nothing written). Idempotent by message id (``take_results``)."""
from __future__ import annotations

from autorke_common.catalogue.netcfg import IPPoolApplied, IPPoolChecked, IPPoolRefused
from autorke_common.envelope import Envelope
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers
from autorke_orchestrator.service_layer.commands import TakeResults
from autorke_orchestrator.service_layer.dispatch import parse_command_id
from autorke_orchestrator.service_layer.unit_of_work import UnitOfWork

CONSUMER = "orchestrator-netcfg"
ANSWERS = (IPPoolChecked.TYPE, IPPoolApplied.TYPE, IPPoolRefused.TYPE)


def outcome(msg: IPPoolChecked | IPPoolApplied | IPPoolRefused) -> Outcome:
    if isinstance(msg, IPPoolRefused):
        return Outcome("failed", f"{msg.problem}: {msg.detail}", "refused")
    result = {"before": msg.before, "after": msg.after}
    if isinstance(msg, IPPoolChecked):
        result["violations"] = [v.model_dump() for v in msg.violations]
    return Outcome("succeeded", result=result)


def handle(env: Envelope, uow: UnitOfWork) -> None:
    if env.type not in ANSWERS:
        return   # netcfg's other pool events (created, drift ...) answer nothing of ours
    msg = env.parsed()
    parsed = parse_command_id(msg.command_id)
    if parsed is None:
        return
    job_id, target = parsed
    handlers.take_results(TakeResults(CONSUMER, env.id, job_id, {target: outcome(msg)}), uow)
