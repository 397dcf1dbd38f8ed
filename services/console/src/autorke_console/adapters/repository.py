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
from sqlalchemy import delete
from sqlalchemy.orm import Session

from autorke_common.envelope import aware
from autorke_console.adapters.orm import SessionRow
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
