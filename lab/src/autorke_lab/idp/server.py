"""The identity provider as a lab component: a child process on its own port, started and
stopped by pid (see :class:`autorke_lab.servers.AppProcess`)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..servers import AppProcess, serve_on_fd
from .directory import DEFAULT_CONSOLE_REDIRECTS
from .keys import rotate_signing_key


class IdentityProvider(AppProcess):
    """``start()``, ``stop()``, ``url`` (also the issuer), ``state_dir`` for tokens and
    ``rotate_key()`` (the old signing key leaves the JWKS at once, as after a leak)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        console_redirect_uris: list[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        redirects = list(console_redirect_uris or DEFAULT_CONSOLE_REDIRECTS)
        super().__init__(
            "autorke_lab.idp", {}, host=host, port=port, log_path=log_path
        )
        self._env.update(
            {
                "AUTORKE_LAB_IDP_ISSUER": self.url,
                "AUTORKE_LAB_IDP_STATE_DIR": str(self.state_dir.resolve()),
                "AUTORKE_LAB_IDP_CONSOLE_REDIRECT_URIS": json.dumps(redirects),
                "AUTHLIB_INSECURE_TRANSPORT": "1",  # plain HTTP on loopback, lab only
            }
        )

    @property
    def issuer(self) -> str:
        return self.url

    def rotate_key(self) -> str:
        """A new signing key replaces the old one; its ``kid``."""
        return rotate_signing_key(self.state_dir)


def main() -> None:
    from .app import IdPSettings, create_app

    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    serve_on_fd(create_app(IdPSettings()))
