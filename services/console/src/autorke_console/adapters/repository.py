"""The console's repository: its server-side sessions, read and written in the unit of
work's session.

The opaque session id the browser holds is never stored: a row is keyed by its SHA-256
digest, and the access token is sealed (Fernet) with a key derived from the id itself
(HKDF-SHA256), so someone who reads the table — a backup, a leaked dump — can neither
present a session nor read a token, and the console needs no key of its own for it.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from autorke_common.db import add_once, keyset
from autorke_common.envelope import aware
from autorke_common.rest import Cursor
from autorke_console.adapters.orm import EventRow, SessionRow
from autorke_console.domain.event_log import EVENTS_ALL, EventQuery, subject_like
from autorke_console.domain.sessions import ConsoleSession

_TOKEN_KEY_INFO = b"autorke console session: access token"


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _token_box(session_id: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TOKEN_KEY_INFO).derive(session_id.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(value: datetime) -> float:
    return aware(value).timestamp()


class SessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, session_id: str, record: ConsoleSession) -> None:
        self.session.add(SessionRow(
            id_digest=_digest(session_id), subject=record.subject, name=record.name, username=record.username,
            roles=list(record.roles),
            token_sealed=_token_box(session_id).encrypt(record.token.encode()).decode(), csrf=record.csrf,
            token_expires_at=_when(record.token_expires_at)))

    def get(self, session_id: str) -> ConsoleSession | None:
        row = self.session.get(SessionRow, _digest(session_id))
        if row is None:
            return None
        try:
            token = _token_box(session_id).decrypt(row.token_sealed.encode()).decode()
        except InvalidToken:  # only the id's own key opens it; anything else is no session
            return None
        return ConsoleSession(subject=row.subject, name=row.name, username=row.username,
                              roles=tuple(row.roles or ()), token=token,
                              csrf=row.csrf, token_expires_at=_epoch(row.token_expires_at))

    def remove(self, session_id: str) -> bool:
        return bool(self.session.execute(
            delete(SessionRow).where(SessionRow.id_digest == _digest(session_id))).rowcount)

    def remove_ended_before(self, moment: float) -> int:
        """Delete the sessions whose token expired before ``moment``; how many there were."""
        return int(self.session.execute(
            delete(SessionRow).where(SessionRow.token_expires_at < _when(moment))).rowcount or 0)


class EventLogRepository:
    """The console's copy of the platform's events, newest first (``time``, then id)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_once(self, row: EventRow) -> bool:
        """Keep an event; False when it was kept before (another replica, a redelivery)."""
        return add_once(self.session, row)

    def page(self, f: EventQuery, after: Cursor | None, limit: int) -> list[EventRow]:
        stmt = select(EventRow)
        if f.subject and f.subject != EVENTS_ALL:
            stmt = stmt.where(EventRow.subject.like(subject_like(f.subject)))
        for column, value in ((EventRow.correlation_id, f.correlation_id), (EventRow.actor, f.actor),
                              (EventRow.cluster, f.cluster), (EventRow.type, f.type)):
            if value:
                stmt = stmt.where(column == value)
        if f.since is not None:
            stmt = stmt.where(EventRow.time >= f.since)
        if f.until is not None:
            stmt = stmt.where(EventRow.time < f.until)
        return list(self.session.scalars(keyset(stmt, EventRow.time, EventRow.id, after, limit, descending=True)))

    def remove_before(self, moment: datetime) -> int:
        return self.session.execute(delete(EventRow).where(EventRow.time < moment)).rowcount or 0
