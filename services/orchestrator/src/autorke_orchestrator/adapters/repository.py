"""The change repository (``uow.changes``): loads and stores the change aggregate (change,
steps, targets, approvals, history) in the unit of work's session, and lists changes a page
at a time. Saving checks the version it loaded (optimistic locking), so two handlers
racing on one change never both win: the loser retries on fresh state. Beside it, the jobs
repository (``uow.jobs``): the orders sent.

The SSH endpoints snapshotted at plan time (one per host of the blast radius: on RKE1 every
node of the cluster) never change afterwards: they are written once, and read only when a
step sends an SSH job (:class:`PlannedEndpoints`), so a step's cost does not grow with them."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from autorke_common.db import keyset
from autorke_common.envelope import aware, utcnow
from autorke_orchestrator.adapters.orm import ApprovalRow, ChangeRow, HistoryRow, JobRow, StepRow, TargetRow
from autorke_orchestrator.domain.model import (
    Approval,
    Change,
    Endpoint,
    HistoryEntry,
    Step,
    TargetState,
)
from autorke_orchestrator.domain.orders import Order

if TYPE_CHECKING:
    from autorke_common.rest import Cursor

SCALARS = ("type", "cluster", "targets", "params", "requested_by", "policy", "status", "closed",
           "cancel_requested", "problem", "problem_detail", "waiting_for", "dropped", "blast_hosts",
           "blast_components", "config_diff", "warnings", "last_mark", "created_at", "updated_at")


class StaleChange(Exception):
    """Another handler saved the change since it was loaded."""


class PlannedEndpoints(Mapping[str, Endpoint]):
    """A change's endpoints, read from its row on first use."""

    def __init__(self, session: Session, change_id: str) -> None:
        self._session, self._change_id = session, change_id
        self._data: dict[str, Endpoint] | None = None

    def _load(self) -> dict[str, Endpoint]:
        if self._data is None:
            raw = self._session.execute(select(ChangeRow.endpoints).where(ChangeRow.id == self._change_id)).scalar()
            self._data = {h: Endpoint(**e) for h, e in (raw or {}).items()}
        return self._data

    def __getitem__(self, host: str) -> Endpoint:
        return self._load()[host]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


class ChangeRepository:
    """The changes of one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, change_id: str) -> Change | None:
        session = self.session
        row = session.execute(select(ChangeRow).where(ChangeRow.id == change_id)
                              .options(defer(ChangeRow.endpoints))).scalar_one_or_none()
        if row is None:
            return None
        steps = session.execute(select(StepRow).where(StepRow.change_id == change_id)
                                .order_by(StepRow.position)).scalars().all()
        targets = session.execute(select(TargetRow).where(TargetRow.change_id == change_id)).scalars().all()
        by_step: dict[str, dict[str, TargetState]] = {}
        for t in targets:
            by_step.setdefault(t.step_id, {})[t.host] = TargetState(
                t.host, t.status, t.attempt, t.error, t.error_class, dict(t.result or {}), t.undo_status)
        change = Change(
            id=row.id, steps=[Step(s.step_id, s.name, s.kind, s.position, s.status, s.attempt, s.job_id,
                                   s.undo_status, s.undo_attempt, s.started_at, s.finished_at,
                                   by_step.get(s.step_id, {})) for s in steps],
            endpoints=PlannedEndpoints(session, change_id),
            version=row.version, **{k: getattr(row, k) for k in SCALARS})
        change.targets, change.dropped = list(row.targets or []), list(row.dropped or [])
        change.approvals = [Approval(a.step_id, a.decision, a.by, a.comment, a.at, a.automatic)
                            for a in session.execute(select(ApprovalRow).where(ApprovalRow.change_id == change_id)
                                                     .order_by(ApprovalRow.id)).scalars()]
        change.history = [HistoryEntry(h.at, h.actor, h.action, h.step_id, h.result, dict(h.detail or {}))
                          for h in session.execute(select(HistoryRow).where(HistoryRow.change_id == change_id)
                                                   .order_by(HistoryRow.id)).scalars()]
        change.__dict__["_saved"] = (len(change.approvals), len(change.history))
        return change

    def save(self, change: Change) -> None:
        """Insert a new change, or update the one loaded; :class:`StaleChange` when another
        handler saved it since."""
        session = self.session
        values = {k: getattr(change, k) for k in SCALARS}
        saved_appr, saved_hist = change.__dict__.get("_saved", (0, 0))
        if change.version == 0 and session.get(ChangeRow, change.id) is None:
            endpoints = {h: vars(e) for h, e in change.endpoints.items()}
            session.add(ChangeRow(id=change.id, version=1, endpoints=endpoints, **values))
        else:
            res = session.execute(update(ChangeRow).where(ChangeRow.id == change.id,
                                                          ChangeRow.version == change.version)
                                  .values(version=change.version + 1, **values))
            if res.rowcount != 1:
                raise StaleChange(change.id)
        change.version += 1
        for s in change.steps:
            session.merge(StepRow(change_id=change.id, step_id=s.id, name=s.name, kind=s.kind, position=s.position,
                                  status=s.status, attempt=s.attempt, job_id=s.job_id, undo_status=s.undo_status,
                                  undo_attempt=s.undo_attempt, started_at=s.started_at, finished_at=s.finished_at))
            for t in s.targets.values():
                session.merge(TargetRow(change_id=change.id, step_id=s.id, host=t.host, status=t.status,
                                        attempt=t.attempt, error=t.error, error_class=t.error_class,
                                        result=t.result, undo_status=t.undo_status))
        for a in change.approvals[saved_appr:]:
            session.add(ApprovalRow(change_id=change.id, step_id=a.step_id, decision=a.decision, by=a.by,
                                    comment=a.comment, at=a.at, automatic=a.automatic))
        for h in change.history[saved_hist:]:
            session.add(HistoryRow(change_id=change.id, at=h.at, actor=h.actor, action=h.action, step_id=h.step_id,
                                   result=h.result, detail=h.detail))
        change.__dict__["_saved"] = (len(change.approvals), len(change.history))

    def open_ids(self) -> list[str]:
        return list(self.session.execute(select(ChangeRow.id).where(ChangeRow.closed.is_(False))
                                         .order_by(ChangeRow.created_at)).scalars())

    def page(self, status: str | None, cluster: str | None, limit: int, after: Cursor | None) -> list[ChangeRow]:
        """Up to ``limit + 1`` changes, newest first (ties by id), after the ``after`` cursor."""
        q = select(ChangeRow).options(defer(ChangeRow.endpoints))
        if status:
            q = q.where(ChangeRow.status == status)
        if cluster:
            q = q.where(ChangeRow.cluster == cluster)
        q = keyset(q, ChangeRow.created_at, ChangeRow.id, after, limit, descending=True)
        return list(self.session.execute(q).scalars())


class JobRepository:
    """The orders sent (``jobs``): one row per job id, the anchor of "no job runs twice"."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, change_id: str, order: Order) -> None:
        """Remember an order as sent (once: a re-sent order keeps its first row)."""
        if self.session.get(JobRow, order.job_id) is None:
            job = order.job
            self.session.add(JobRow(job_id=order.job_id, change_id=change_id, step_id=order.step_id,
                                    purpose=order.purpose, attempt=order.attempt, service=job.service, kind=job.kind,
                                    action=job.action, hosts=list(job.reported), sent_at=utcnow(),
                                    budget_s=order.budget_s))

    def overdue(self, now: datetime, grace_s: float, limit: int = 200) -> list[str]:
        """Jobs sent whose deadline (sent + budget + grace) has passed and that the deadline
        check has not closed yet, oldest first. Rows from before budgets count 300 s."""
        q = (select(JobRow).where(JobRow.finished_at.is_(None),  # type: ignore[union-attr]
                                  JobRow.sent_at < now - timedelta(seconds=grace_s))
             .order_by(JobRow.sent_at).limit(limit * 5))
        rows = list(self.session.execute(q).scalars())
        due = [r.job_id for r in rows
               if aware(r.sent_at) + timedelta(seconds=(r.budget_s or 300.0) + grace_s) < now]
        return due[:limit]

    def close(self, job_id: str, now: datetime) -> None:
        row = self.session.get(JobRow, job_id)
        if row is not None and row.finished_at is None:
            row.finished_at = now
            self.session.add(row)

    def hosts(self, job_id: str) -> list[str] | None:
        """The hosts a sent job reports on, in order (None: no such job)."""
        row = self.session.get(JobRow, job_id)
        return None if row is None else list(row.hosts or [])
