"""What the saga sends: an :class:`Order` is one job (or one inventory command) of a
change's step, with a deterministic id, so that sending it twice (after a crash, on
resume) runs nothing twice: the executor de-duplicates by job id, the inventory by
command id. Ids: ``<change>:<step>:<attempt>`` for a step's job,
``<change>:<step>:undo:<n>`` for its n-th compensation job, and
``<change>:<step>:mark-<state>:<attempt>`` (``undone-<state>``) for a lifecycle mark.

Every order passes the fence first: a job that would touch a host outside the change's
blast radius is a flow bug and is never sent.
"""
from __future__ import annotations

from dataclasses import dataclass

from autorke_common.envelope import utcnow
from autorke_common.errors import Broken
from autorke_orchestrator.domain.flow import PSEUDO_TARGETS, Job
from autorke_orchestrator.domain.model import Change, Step

#: who the saga records its own transitions as
SYSTEM = "system"
#: The inventory command a lifecycle mark sends (:class:`~autorke_orchestrator.domain.flow.Marks`).
MARK_COMMAND = "inventory.machine.transition"
#: The inventory command that stores a config version (here: a failed rke run's rkestate).
STORE_COMMAND = "inventory.config.store"


#: the executor runs this many targets of a job at once unless told otherwise (its contract's
#: default ``concurrency``), so a job's targets take this many waves of its command timeout
EXECUTOR_CONCURRENCY = 50


@dataclass(frozen=True)
class Order:
    job_id: str
    change_id: str
    step_id: str
    purpose: str  # "run" or "undo"
    attempt: int
    job: Job

    @property
    def budget_s(self) -> float:
        """How long the order's job may take once sent, before the grace the deadline adds
        (H3): its command timeout for each wave of targets the executor runs at once; an
        inventory or netcfg command's own timeout."""
        job = self.job
        if job.service != "executor" or job.kind == "rke":
            return job.timeout_s
        waves = max(1, -(-len(job.hosts) // EXECUTOR_CONCURRENCY))
        return job.timeout_s * waves


def job_id(change_id: str, step_id: str, attempt: int, undo: bool = False) -> str:
    return f"{change_id}:{step_id}:undo:{attempt}" if undo else f"{change_id}:{step_id}:{attempt}"


def parse_job_id(value: str) -> tuple[str, str, str, int] | None:
    """(change_id, step_id, purpose, attempt) of one of our job ids, else None."""
    parts = value.split(":")
    try:
        if len(parts) == 4 and parts[2] == "undo":
            return parts[0], parts[1], "undo", int(parts[3])
        if len(parts) == 4 and parts[2].startswith(("mark-", "undone-")):
            return parts[0], parts[1], "mark", int(parts[3])
        if len(parts) == 3:
            return parts[0], parts[1], "run", int(parts[2])
    except ValueError:
        return None
    return None


def make_order(change: Change, step: Step, job: Job, purpose: str, attempt: int) -> Order:
    """The order of a step's job (``purpose`` run or undo), once it passed the fence."""
    check_fence(change, step, job)
    return Order(job_id(change.id, step.id, attempt, purpose == "undo"), change.id, step.id, purpose,
                 attempt, job)


def check_fence(change: Change, step: Step, job: Job) -> None:
    fence = set(change.blast_hosts)
    outside = [h for h in (*job.hosts, *job.reported) if h not in fence and h not in PSEUDO_TARGETS]
    if outside:  # a flow bug: never send it
        raise Broken("target-outside-blast-radius", f"step {step.id} would touch {outside} outside the blast radius")


def lifecycle_marks(change: Change, step: Step, state: str | None, hosts: list[str] | tuple[str, ...],
           attempt: int, undone: bool = False) -> list[Order]:
    """The inventory command that moves ``hosts`` to lifecycle ``state`` (none for no state).
    Sent beside the step's own job and not waited for: the state is what the inventory
    shows of the machine, the step's job is what decides the change. Its id is derived from
    the step, the state and the attempt, so a re-sent mark is dropped like any order."""
    machines = tuple(h for h in hosts if h not in PSEUDO_TARGETS)
    if not state or not machines:
        return []
    # the order they were made in, for the inventory, which may handle them in any order
    # (replicas, redeliveries): one change's marks are made one after another, each in a unit
    # that saves the change (optimistic locking), so the last one is known; the clock only
    # keeps the numbers of changes made before this rule comparable, never orders them (two
    # replicas' clocks may differ)
    ordinal = change.last_mark = max(int(utcnow().timestamp() * 1_000_000), change.last_mark + 1)
    job = Job("inventory", MARK_COMMAND, machines, {"state": state, "ordinal": ordinal}, service="inventory")
    check_fence(change, step, job)
    kind = "undone" if undone else "mark"
    return [Order(f"{change.id}:{step.id}:{kind}-{state}:{attempt}", change.id, step.id, "mark",
                  attempt, job)]


def kept_state(change: Change, step: Step, attempt: int) -> list[Order]:
    """M10: the rkestate a failed ``rke`` run wrote (the executor seals it whatever the
    outcome) stored as a new version of the cluster's state at once, so a retry (or the
    next change) starts from what rke left, not from the state before it, which after a
    half-done certificate rotation no longer matches the cluster. Like a lifecycle mark it
    is not waited for: its answer moves no change; its id is the step's and the attempt's."""
    sealed = next((t.result.get("rkestate") for t in step.targets.values()
                   if t.status == "failed" and isinstance(t.result, dict) and t.result.get("rkestate")), None)
    if not sealed or not change.cluster:
        return []
    job = Job("inventory", STORE_COMMAND, (), {
        "cluster": change.cluster, "kind": "cluster.rkestate", "content_sealed": sealed,
        "comment": f"failed-run: written by the failed rke run of {change.id} step {step.id} attempt {attempt}"},
        service="inventory", reports=("config",))
    return [Order(f"{change.id}:{step.id}:mark-failed-run-state:{attempt}", change.id, step.id, "mark", attempt, job)]
