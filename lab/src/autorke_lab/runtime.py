"""The lab runtime: the one long-lived process behind ``autorke lab up``.

It is a list of components started in order and stopped in reverse, plus one HTTP server
(the CMDB port, default 8201) serving the CMDB (``/api/v1/...``) and the lab control API
(``/lab/...``). ``autorke lab up`` runs it in the foreground until SIGINT/SIGTERM, or
detached (``--detach``) with its state under ``./.autorke/lab/``; ``autorke lab down``
ends it. ``<state dir>/state.json`` holds everything a client needs (see ``Lab.status``);
``autorke lab status --json`` prints it.

Plugging in a component (Kubernetes API servers, VCalico, the IdP) takes two lines:

1. a class implementing :class:`autorke_lab.component.Component`: ``name``,
   ``start(lab: LabHost)``, ``stop()`` and ``status() -> dict`` (JSON-able, published in
   state.json under ``components.<name>``). In ``start`` it may read ``lab.config``
   (``lab.config.options`` holds ``--set key=value`` from the command line) and
   ``lab.state_dir``, reach other components (``lab.get("machines").fleet``), add routes to
   the control app (``lab.app.include_router(...)``, under ``/lab/<name>/...`` please), or
   serve on a port of its own: in a child process with
   :class:`autorke_lab.servers.AppProcess` as VCalico and the IdP do (``HttpServer`` there
   runs an app in a thread of the lab process instead). A component imports neither this
   module nor the CLI: what it sees of the lab is :class:`autorke_lab.component.LabHost`;
2. its factory appended to ``COMPONENTS`` below.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from .clusters.component import ClustersComponent
from .cmdb.component import CmdbComponent
from .component import DEFAULT_STATE_DIR, Component, LabConfig
from .idp.component import IdentityProviderComponent
from .kube.component import KubeComponent
from .machines.component import MachinesComponent
from .servers import HttpServer
from .vcalico.component import VCalicoComponent

__all__ = ["COMPONENTS", "DEFAULT_STATE_DIR", "Component", "HttpServer", "Lab", "LabConfig", "read_state"]
log = logging.getLogger("autorke_lab")


# The lab's components, in start order. Add yours here (one line).
COMPONENTS: list[Callable[[], Component]] = [
    MachinesComponent,
    CmdbComponent,
    VCalicoComponent,
    IdentityProviderComponent,
    KubeComponent,
    ClustersComponent,
]


class Lab:
    def __init__(self, config: LabConfig, components: list[Component] | None = None):
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.components = components if components is not None else [f() for f in COMPONENTS]
        self.app = FastAPI(title="AutoRKE lab: CMDB and control API")
        self.app.add_api_route("/lab/status", self.status, methods=["GET"])
        self.app.add_api_route("/healthz", lambda: {"status": "ok"}, methods=["GET"])
        self.http: HttpServer | None = None
        self.notices: list[str] = []
        self._started: list[Component] = []
        self.started_at = ""

    # -- components -----------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return any(c.name == name for c in self._started)

    def get(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(f"no lab component {name!r}")

    def notice(self, text: str) -> None:
        """Something a person starting the lab must read (printed and in state.json)."""
        self.notices.append(text)
        print(text, file=sys.stderr, flush=True)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        t0 = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.http = HttpServer(self.app, self.config.host, self.config.cmdb_port)  # bound now: see HttpServer
            for c in self.components:
                c.start(self)
                self._started.append(c)
            self.http.start()
        except BaseException:
            self.stop()
            raise
        self.started_at = datetime.now(UTC).isoformat()
        log.info("lab ready in %.1f s", time.monotonic() - t0)
        self.write_state()

    def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
            self.http = None
        while self._started:
            c = self._started.pop()
            try:
                c.stop()
            except Exception:  # one component failing to stop must not leave the others running
                log.exception("lab: stopping %s failed", c.name)
        state = self.state_dir / "state.json"
        if state.exists():
            try:
                if json.loads(state.read_text()).get("pid") == os.getpid():
                    state.unlink()
            except (OSError, ValueError):
                pass

    def status(self) -> dict:
        """The lab as clients see it (also state.json and ``lab status --json``)."""
        base = f"http://{self.config.host}:{self.config.cmdb_port}"
        components = {c.name: c.status() for c in self._started}
        machines = components.get("machines", {})
        return {
            "pid": os.getpid(),
            "ready": self.http is not None,
            "started_at": self.started_at,
            "state_dir": str(self.state_dir.resolve()),
            "config": self.config.to_json(),
            "cmdb_url": base,
            "control_url": f"{base}/lab",
            "ssh": machines.get("ssh", {}),
            "isolation": machines.get("isolation"),
            "machines": machines.get("machines", []),
            "bastion": machines.get("bastion"),
            "notices": self.notices,
            "components": {k: v for k, v in components.items() if k != "machines"},
        }

    def write_state(self) -> None:
        path = self.state_dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=2))
        tmp.replace(path)

    def serve_forever(self) -> int:
        """Start, then wait for SIGINT/SIGTERM; always stop everything on the way out."""
        stop = threading.Event()
        previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            print(f"lab: {len(self.status()['machines'])} machines, CMDB {self.status()['cmdb_url']}"
                  f", state {self.state_dir.resolve() / 'state.json'}", file=sys.stderr, flush=True)
            while not stop.wait(1.0):
                pass
            return 0
        finally:
            self.stop()
            for s, h in previous.items():
                signal.signal(s, h)


def read_state(state_dir: Path = DEFAULT_STATE_DIR) -> dict | None:
    """state.json of a running lab, or None (missing, or its process is gone)."""
    try:
        state = json.loads((Path(state_dir) / "state.json").read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None
    return state
