"""What a change's page shows a given user: the steps for the timeline, per-target results,
and which buttons fit the change's state and the user's roles. The rule that matters most
(DESIGN.md section 4): the requester of a change never gets an approve button on it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from autorke_console.domain.status import TERMINAL_CHANGE

WAITING_STEP = ("awaiting_approval", "waiting", "pending_approval")
#: The orchestrator's words at a gate: "approval of step <id> (<name>) by a user with role '<role>' other than <who>"
_GATE_WAIT = re.compile(r"approval of step \S+ \((?P<name>.*)\) by a user with role '(?P<role>[a-z_]+)' "
                        r"other than (?P<requester>.+)$")


@dataclass
class ChangeView:
    change: dict[str, Any]
    user: str
    roles: set[str]

    def _has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles

    @property
    def status(self) -> str:
        return str(self.change.get("status", ""))

    @property
    def plan(self) -> dict[str, Any]:
        return self.change.get("plan") or {}

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.change.get("steps") or self.plan.get("steps") or []

    @property
    def own(self) -> bool:
        return self.change.get("requested_by") == self.user

    @property
    def waiting_step(self) -> dict[str, Any] | None:
        for step in self.steps:
            if step.get("status") in WAITING_STEP:
                return step
        return None

    @property
    def waiting_notice(self) -> dict[str, str] | None:
        """What the change waits for, for people: at a gate, the step's name, the role that
        decides and who may not (the requester); otherwise the orchestrator's words."""
        text = str(self.change.get("waiting_for") or "")
        if not text:
            return None
        gate = _GATE_WAIT.match(text)
        if gate is None:
            return {"text": text}
        return {"step": gate.group("name"), "role": gate.group("role"), "not": gate.group("requester")}

    @property
    def can_decide(self) -> bool:
        return (self.status == "awaiting_approval" and self.waiting_step is not None
                and self._has("approver") and not self.own)

    @property
    def can_retry(self) -> bool:
        return self.status in ("partially_failed", "failed") and self._has("operator") and bool(self.failed_targets)

    @property
    def can_continue(self) -> bool:
        return self.status == "partially_failed" and self._has("operator") and bool(
            self.change.get("can_continue", True))

    @property
    def can_cancel(self) -> bool:
        """As the orchestrator decides: an operator who requested it, or an approver."""
        return (self.status not in TERMINAL_CHANGE and self.status != "compensating" and self._has("operator")
                and (self.own or self._has("approver")))

    @property
    def rejection(self) -> dict[str, Any] | None:
        """The gate decision that rejected the change (who, which step by its name, why), if one did."""
        names = {s.get("id"): s.get("name") for s in self.steps}
        for decision in reversed(self.change.get("approvals") or []):
            if isinstance(decision, dict) and decision.get("decision") == "reject":
                return {**decision, "step_name": names.get(decision.get("step")) or decision.get("step")}
        return None

    @property
    def ticket(self) -> dict[str, Any] | None:
        """A node.add's flat-network ticket, for the two human steps: its id, the plan
        (nodes with IP and rack, route reflectors, pool) and VCalico's answer once it came
        (peers, AS numbers, accepted pools). None: the change has no ticket (yet)."""
        found: dict[str, Any] = {}
        for step in self.steps:
            target = (step.get("targets") or {}).get("ticket") if isinstance(step.get("targets"), dict) else None
            result = (target or {}).get("result") or {}
            if step.get("id") == "net_plan" and result.get("ticket_id"):
                found.update(id=result["ticket_id"], plan=result.get("plan") or {})
            elif step.get("id") == "net_submit" and result.get("answer") is not None:
                found["answer"] = result["answer"]
        return found or None

    @property
    def can_force_cancel(self) -> bool:
        """An admin may close any open change at once (a stuck one: H3)."""
        return bool(self.change.get("open", self.status not in TERMINAL_CHANGE)) and self._has("admin")

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_CHANGE

    @property
    def results(self) -> list[dict[str, Any]]:
        """Per-target results as rows with at least ``host`` and ``status``: from the
        steps' targets (each host's latest step that has started for it), else from a
        ``results`` list or mapping."""
        per_host: dict[str, dict[str, Any]] = {}
        for step in self.steps:
            targets = step.get("targets")
            if not isinstance(targets, dict):
                continue
            for host, state in targets.items():
                state = state if isinstance(state, dict) else {"status": state}
                if host not in per_host or state.get("status") not in (None, "pending"):
                    per_host[host] = {"host": host, "step": step.get("name"), **state}
        if per_host:
            return list(per_host.values())
        raw = self.change.get("results") or self.change.get("target_results")
        if raw is None and isinstance(self.change.get("targets"), list) and all(
                isinstance(t, dict) for t in self.change["targets"]):
            raw = self.change["targets"]
        if isinstance(raw, dict):
            return [{"host": host, **(value if isinstance(value, dict) else {"status": value})}
                    for host, value in raw.items()]
        return [r for r in (raw or []) if isinstance(r, dict)]

    @property
    def host_results(self) -> list[dict[str, Any]]:
        """:attr:`results` of machines only: a step's pseudo-targets (``rke``, ``config``,
        ``ticket``: one rke run, an inventory write, the flat-network ticket) are the steps'
        own business, shown on the timeline, not hosts to count."""
        hosts = set(self.plan.get("blast_radius", {}).get("hosts") or []) | {
            str(t) for t in self.change.get("targets") or [] if isinstance(t, str)}
        results = self.results
        return [r for r in results if str(r.get("host") or r.get("target")) in hosts] if hosts else results

    @property
    def failed_targets(self) -> list[str]:
        return [str(r.get("host") or r.get("target")) for r in self.results
                if r.get("status") in ("failed", "refused", "timeout", "unreachable")]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.host_results:
            out[str(r.get("status"))] = out.get(str(r.get("status")), 0) + 1
        return out
