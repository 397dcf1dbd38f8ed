"""A person's console session, as the console keeps it on its side.

The browser holds only an opaque session id (in the signed session cookie); the access
token, the roles and the CSRF token stay in the console's database, so a copied cookie
tells nothing about the token and signing out (deleting the session) ends it everywhere.
A session lasts as long as the access token it was opened with, a little less in fact:
a token this close to its expiry would lapse in the middle of a request.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A token this close to its expiry is treated as expired (it would lapse mid-request).
EXPIRY_MARGIN_S = 5


@dataclass(frozen=True)
class ConsoleSession:
    subject: str
    name: str | None
    #: The IdP's ``preferred_username``, for display (the subject decides, never this).
    username: str | None
    roles: tuple[str, ...]
    token: str
    csrf: str
    #: The access token's expiry (seconds since the epoch).
    token_expires_at: float

    @property
    def ends_at(self) -> float:
        """When the session stops counting as signed in."""
        return self.token_expires_at - EXPIRY_MARGIN_S

    def active(self, now: float) -> bool:
        return now < self.ends_at

    def user(self, session_id: str) -> dict[str, Any]:
        """The signed-in user as pages and routes read it."""
        return {"sid": session_id, "sub": self.subject, "name": self.name or self.subject,
                "username": self.username or self.subject,
                "roles": list(self.roles), "token": self.token, "exp": self.token_expires_at,
                "csrf": self.csrf}
