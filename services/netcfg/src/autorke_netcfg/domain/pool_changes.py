"""What a requested pool change (``ippool.create``, ``update``, ``delete``, ``enable``,
``disable``) does to the pool, judged against the cluster as it is: the pool's spec before
and after it, or the P7 refusal (``pool_rules``). The same judgement answers the REST
request at once (nothing stored when refused), the change's check step, and the apply
step again under the cluster's lock; ``restore`` is an apply's compensation (put back what
the change found).

A change is planned against a pool as it was read (``previous``); when the pool differs
from that by the time the change is checked or applied, the change is refused with
``pool-changed-meanwhile``: an approver approved a diff, not whatever the pool became."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from autorke_common.errors import Conflict, Invalid, Missing
from autorke_netcfg.domain import pool_rules
from autorke_netcfg.domain.pool_rules import Block, ClusterNetworks, Pool

OPERATIONS = ("create", "update", "delete", "enable", "disable")
Spec = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The pool's spec before and after the change (None: there is no pool)."""

    before: Spec | None
    after: Spec | None

    @property
    def noop(self) -> bool:
        return self.before == self.after


def _current(name: str, existing: list[Pool]) -> Pool | None:
    return next((p for p in existing if p.name == name), None)


def judge(operation: str, name: str, spec: Spec | None, cluster: ClusterNetworks,
          existing: list[Pool], blocks: list[Block]) -> Outcome:
    """The pool before and after ``operation``, or the refusal (a domain error)."""
    if operation not in OPERATIONS:
        raise Invalid("invalid-operation", f"{operation!r} is not one of {', '.join(OPERATIONS)}",
                      field="operation")
    pool_rules.check_name(name)
    current = _current(name, existing)
    if operation == "create":
        wanted = pool_rules.normalise(name, spec or {})
        pool_rules.check_create(wanted, cluster, existing, blocks)
        return Outcome(None, wanted.spec())
    if current is None:
        raise Missing("not-found", f"IP pool {cluster.name}/{name} does not exist", field="name")
    if operation == "update":
        wanted = pool_rules.normalise(name, spec or {})
        pool_rules.check_update(current, wanted, cluster, existing, blocks)
        return Outcome(current.spec(), wanted.spec())
    if operation == "delete":
        pool_rules.check_delete(current, blocks)
        return Outcome(current.spec(), None)
    wanted = dataclasses.replace(current, disabled=operation == "disable")
    return Outcome(current.spec(), wanted.spec())


def unchanged_since(name: str, previous: Spec | None, existing: list[Pool], cluster: str) -> None:
    """The pool is still as the change was planned against (``previous``; None: absent)."""
    current = _current(name, existing)
    now = current.spec() if current else None
    if now != previous:
        raise Conflict("pool-changed-meanwhile", f"IP pool {cluster}/{name} changed since this change was "
                       f"planned (planned against {previous}, now {now}); request the change again",
                       field="name", planned=previous, now=now)


def spec_of(name: str, spec: Spec | None) -> Spec | None:
    """A spec as the rules normalise it (defaults filled in), or None."""
    return None if spec is None else pool_rules.normalise(name, spec).spec()
