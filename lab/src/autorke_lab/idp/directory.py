"""Who exists in the lab's identity provider: the five lab users and the registered clients.

Users (no passwords: the lab login page picks a user by name, because the lab proves the
platform's authorisation, not anyone's credentials):

========== ==================================== 
user       ``roles`` claim
========== ====================================
viewer     viewer
operator   viewer, operator
operator2  viewer, operator   (a second requester, so "never approve your own change" has
                               someone else to test with)
approver   viewer, approver
admin      viewer, operator, approver, admin
========== ====================================

Clients: ``autorke-console`` (confidential, authorization code, redirect URIs configurable)
and ``autorke-cli`` (public, authorization code with PKCE on a loopback redirect; plus a
confidential twin for client credentials, whose tokens carry the client's service roles).
The lab client secrets are fixed and documented here on purpose: they guard nothing real.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list

ROLES = ("viewer", "operator", "approver", "admin")
SCOPES = ("openid", "profile", "email", "roles", "offline_access")
CONSOLE_CLIENT_ID = "autorke-console"
CONSOLE_CLIENT_SECRET = "lab-console-secret"
CLI_CLIENT_ID = "autorke-cli"
SERVICE_CLIENT_ID = "autorke-service"
SERVICE_CLIENT_SECRET = "lab-service-secret"
DEFAULT_CONSOLE_REDIRECTS = ("http://127.0.0.1:8080/auth/callback", "http://localhost:8080/auth/callback")


@dataclass(frozen=True)
class User:
    username: str
    name: str
    roles: tuple[str, ...]

    @property
    def email(self) -> str:
        return f"{self.username}@lab.autorke.invalid"

    def get_user_id(self) -> str:
        return self.username


USERS: dict[str, User] = {
    u.username: u
    for u in (
        User("viewer", "Vera Viewer", ("viewer",)),
        User("operator", "Otto Operator", ("viewer", "operator")),
        User("operator2", "Olga Operator", ("viewer", "operator")),
        User("approver", "Anna Approver", ("viewer", "approver")),
        User("admin", "Ada Admin", ROLES),
    )
}


@dataclass
class Client(ClientMixin):
    """A registered OAuth client, as authlib's grants expect it."""

    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    grant_types: tuple[str, ...]
    auth_method: str  # client_secret_basic/post for confidential, "none" for public
    service_roles: tuple[str, ...] = field(default=())  # roles of client-credentials tokens

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return list_to_scope([s for s in scope_to_list(scope or "") if s in SCOPES])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if self.auth_method == "none" and redirect_uri.startswith("http://127.0.0.1:"):
            return True  # RFC 8252: a native app's loopback redirect may use any port
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(
            self.client_secret, client_secret
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        if self.auth_method == "none":
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def lab_clients(console_redirect_uris: list[str]) -> dict[str, Client]:
    clients = (
        Client(
            CONSOLE_CLIENT_ID,
            CONSOLE_CLIENT_SECRET,
            list(console_redirect_uris),
            ("authorization_code",),
            "client_secret_basic",
        ),
        Client(CLI_CLIENT_ID, None, ["http://127.0.0.1/callback"], ("authorization_code",), "none"),
        Client(
            SERVICE_CLIENT_ID,
            SERVICE_CLIENT_SECRET,
            [],
            ("client_credentials",),
            "client_secret_basic",
            service_roles=("viewer", "operator"),
        ),
    )
    return {c.client_id: c for c in clients}
