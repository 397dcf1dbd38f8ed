"""VCalico in its own child process (:class:`autorke_lab.servers.AppProcess`), and the
control calls a test makes on the running server."""
from __future__ import annotations

from pathlib import Path

import httpx

from ..servers import AppProcess, serve_on_fd
from .app import VCalicoSettings


class VCalicoServer(AppProcess):
    """The VCalico component: ``start()``, ``stop()``, ``url``, and the control calls."""

    def __init__(
        self,
        secret: str,
        *,
        webhook_url: str | None = None,
        delay_s: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        log_path: Path | None = None,
        retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        env = {
            "AUTORKE_LAB_VCALICO_SECRET": secret,
            "AUTORKE_LAB_VCALICO_DELAY_S": str(delay_s),
            "AUTORKE_LAB_VCALICO_RETRIES": str(retries),
            "AUTORKE_LAB_VCALICO_BACKOFF_S": str(backoff_s),
        }
        if webhook_url:
            env["AUTORKE_LAB_VCALICO_WEBHOOK_URL"] = webhook_url
        super().__init__("autorke_lab.vcalico", env, host=host, port=port, log_path=log_path)

    def configure(self, **control) -> dict:
        """Set ``mode``, ``delay_s`` and/or ``webhook_url`` on the running server."""
        r = httpx.put(f"{self.url}/control", json=control, timeout=5.0)
        r.raise_for_status()
        return r.json()


def main() -> None:
    from .app import create_app

    serve_on_fd(create_app(VCalicoSettings()))
