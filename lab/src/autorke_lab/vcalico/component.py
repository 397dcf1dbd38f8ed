"""VCalico as a lab runtime component (``autorke lab up``): started on port 8202 by
default (``--set vcalico.port=N``), calling back ``--set vcalico.webhook_url=URL``
(default: netcfg's ``http://127.0.0.1:8104/api/v1/webhooks/vcalico``) after
``vcalico.delay_s`` seconds. The shared secret is ``--set vcalico.secret=...`` or a new
random one kept in ``<state dir>/vcalico/secret`` (0600); the status names that file,
never the secret."""
from __future__ import annotations

import os
import secrets

from ..component import LabHost
from .server import VCalicoServer

DEFAULT_PORT = 8202
DEFAULT_WEBHOOK = "http://127.0.0.1:8104/api/v1/webhooks/vcalico"


class VCalicoComponent:
    name = "vcalico"

    def __init__(self) -> None:
        self.server: VCalicoServer | None = None
        self._info: dict = {}

    def start(self, lab: LabHost) -> None:
        opts = lab.config.options
        secret_file = lab.state_dir / "vcalico" / "secret"
        secret = opts.get("vcalico.secret")
        if not secret:
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            if not secret_file.exists():
                fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(32))
            secret = secret_file.read_text().strip()
        webhook = opts.get("vcalico.webhook_url", DEFAULT_WEBHOOK)
        self.server = VCalicoServer(
            secret, webhook_url=webhook, delay_s=float(opts.get("vcalico.delay_s", 2.0)),
            host=lab.config.host, port=int(opts.get("vcalico.port", DEFAULT_PORT)),
            log_path=lab.state_dir / "vcalico" / "vcalico.log",
        )
        self.server.start()
        self._info = {
            "url": self.server.url, "webhook_url": webhook,
            "secret_file": None if opts.get("vcalico.secret") else str(secret_file.resolve()),
            "signature": "X-VCalico-Signature: sha256=HMAC-SHA256(secret, timestamp + '.' + body)",
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def status(self) -> dict:
        return dict(self._info, pid=self.server.pid if self.server else None)
