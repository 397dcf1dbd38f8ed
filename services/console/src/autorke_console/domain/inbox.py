"""What waits for a given user (issue 19's approvals inbox): the gates of open changes they
may decide, and the flat-network tickets (netcfg's own flow) they may check or confirm;
oldest first, each with who asked and since when. The rules are the platform's: never the
requester's own change or ticket, and only with the role the decision needs. A ticket
inside a change (a node.add's flat network, correlated by the change id) is decided at
that change's gates, so it is listed once, as the change."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autorke_common.envelope import aware
from autorke_console.domain.change_view import ChangeView

#: The orchestrator's ``waiting_for`` names the role a gate needs ("… by a user with role 'admin' …").
_ROLE = re.compile(r"with role '([a-z_]+)'")
#: A netcfg ticket's status -> the decision it waits for.
TICKET_DECISIONS = {"planned": "check", "callback_received": "confirm"}


@dataclass(frozen=True)
class Waiting:
    """One decision waiting for the user."""

    kind: str          # "gate" | "ticket"
    id: str            # the change's or the ticket's id
    link: str          # where it is decided
    what: str          # "node.add rke2-lab (m021, m022)"
    step: str          # the gate's name, or the ticket's decision ("check" / "confirm")
    requested_by: str
    since: datetime

    def age_s(self, now: datetime) -> float:
        return max(0.0, (now - self.since).total_seconds())


def _when(value: Any) -> datetime | None:
    """A timestamp of the API's; one without a zone (a service on SQLite) is UTC."""
    try:
        return aware(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def _targets(targets: Any, shown: int = 3) -> str:
    names = [str(t) for t in targets or []]
    more = f", +{len(names) - shown}" if len(names) > shown else ""
    return f" ({', '.join(names[:shown])}{more})" if names else ""


def _gate(change: dict[str, Any], user: str, roles: set[str]) -> Waiting | None:
    view = ChangeView(change, user, roles)
    step = view.waiting_step
    needed = _ROLE.search(str(change.get("waiting_for") or ""))
    if not view.can_decide or step is None or (needed and not ({needed.group(1), "admin"} & roles)):
        return None
    opened = [h.get("at") for h in change.get("history") or []
              if h.get("action") == "status" and h.get("result") == "awaiting_approval"]
    since = _when(opened[-1] if opened else change.get("updated_at") or change.get("created_at"))
    if since is None:
        return None
    what = f"{change.get('type')} {change.get('cluster') or ''}".strip() + _targets(change.get("targets"))
    return Waiting("gate", str(change["id"]), f"/ui/changes/{change['id']}", what, str(step.get("name") or step["id"]),
                   str(change.get("requested_by") or ""), since)


def _ticket(ticket: dict[str, Any], user: str, roles: set[str]) -> Waiting | None:
    decision = TICKET_DECISIONS.get(str(ticket.get("status")))
    in_a_change = str(ticket.get("correlation_id") or "").startswith("chg-")
    may = "admin" in roles or "approver" in roles
    if decision is None or in_a_change or not may or ticket.get("requested_by") == user:
        return None
    since = _when(ticket.get("updated_at") or ticket.get("created_at"))
    if since is None:
        return None
    nodes = [n.get("name") for n in (ticket.get("plan") or {}).get("nodes") or [] if isinstance(n, dict)]
    return Waiting("ticket", str(ticket["id"]), f"/ui/network?cluster={ticket.get('cluster') or ''}",
                   f"flat network {ticket.get('cluster') or ''}{_targets(nodes)}", decision,
                   str(ticket.get("requested_by") or ""), since)


def inbox(changes: list[dict[str, Any]], tickets: list[dict[str, Any]], user: str, roles: set[str]) -> list[Waiting]:
    """The decisions waiting for ``user``, oldest first."""
    found = [w for c in changes if (w := _gate(c, user, roles))]
    found += [w for t in tickets if (w := _ticket(t, user, roles))]
    return sorted(found, key=lambda w: (w.since, w.id))
