"""Opening, finding and ending people's console sessions (``domain.sessions``), each in
its own unit of work. The browser gets only the opaque id :func:`start_session` answers."""
from __future__ import annotations

import secrets
import time

from autorke_common.auth import Principal
from autorke_console.domain.sessions import ConsoleSession
from autorke_console.service_layer.unit_of_work import UnitOfWork


def start_session(principal: Principal, token: str, token_expires_at: float, uow: UnitOfWork,
                  replacing: str | None = None) -> tuple[str, dict]:
    """A new session for ``principal`` (its id, and the user as pages read it). The session
    the browser held before (``replacing``) ends: a sign-in never continues an old session."""
    session_id = secrets.token_urlsafe(32)
    record = ConsoleSession(subject=principal.subject, name=principal.name,
                            username=getattr(principal, "username", None), roles=tuple(sorted(principal.roles)),
                            token=token, csrf=secrets.token_urlsafe(24), token_expires_at=token_expires_at)
    with uow:
        if replacing:
            uow.sessions.remove(replacing)
        uow.sessions.add(session_id, record)
        uow.commit()
    return session_id, record.user(session_id)


def signed_in_user(session_id: str, uow: UnitOfWork, now: float | None = None) -> dict | None:
    """The user of session ``session_id``; ``None`` when there is no such session (never
    opened, signed out) or its token has (all but) expired."""
    with uow:
        record = uow.sessions.get(session_id)
    if record is None or not record.active(time.time() if now is None else now):
        return None
    return record.user(session_id)


def end_session(session_id: str, uow: UnitOfWork) -> bool:
    """Sign out: the session is gone, whoever holds a copy of its cookie."""
    with uow:
        removed = uow.sessions.remove(session_id)
        uow.commit()
    return removed


def purge_ended_sessions(uow: UnitOfWork, now: float | None = None) -> int:
    """Delete the sessions whose token has expired (they can no longer be used)."""
    with uow:
        removed = uow.sessions.remove_ended_before(time.time() if now is None else now)
        uow.commit()
    return removed
