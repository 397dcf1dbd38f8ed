"""The identity provider as a lab runtime component (``autorke lab up``): port 8203 by
default (``--set idp.port=N``), console redirect URIs from ``--set
idp.console_redirect_uris=URL1,URL2``; key and issuer kept in ``<state dir>/idp`` where
``autorke lab token USER`` finds them."""
from __future__ import annotations

from ..component import LabHost
from .directory import CLI_CLIENT_ID, CONSOLE_CLIENT_ID, CONSOLE_CLIENT_SECRET, SERVICE_CLIENT_ID, USERS
from .server import IdentityProvider

DEFAULT_PORT = 8203


class IdentityProviderComponent:
    name = "idp"

    def __init__(self) -> None:
        self.server: IdentityProvider | None = None

    def start(self, lab: LabHost) -> None:
        opts = lab.config.options
        redirects = [u for u in opts.get("idp.console_redirect_uris", "").split(",") if u]
        self.server = IdentityProvider(
            lab.state_dir / "idp", host=lab.config.host,
            port=int(opts.get("idp.port", DEFAULT_PORT)),
            console_redirect_uris=redirects or None,
            log_path=lab.state_dir / "idp.log",
        )
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def status(self) -> dict:
        if self.server is None:
            return {}
        issuer = self.server.issuer
        return {
            "issuer": issuer,
            "discovery": f"{issuer}/.well-known/openid-configuration",
            "jwks_uri": f"{issuer}/jwks",
            "audience": "autorke",
            "clients": [CONSOLE_CLIENT_ID, CLI_CLIENT_ID, SERVICE_CLIENT_ID],
            # The lab's fixed development credentials, published like its SSH key path so
            # the platform's console can sign users in; not a production secret.
            "console_client": {"id": CONSOLE_CLIENT_ID, "secret": CONSOLE_CLIENT_SECRET},
            "users": {u.username: list(u.roles) for u in USERS.values()},
            "state_dir": str(self.server.state_dir.resolve()),
            "pid": self.server.pid,
        }
