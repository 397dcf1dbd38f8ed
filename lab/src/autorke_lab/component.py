"""What a lab component is, and what it sees of the lab: the :class:`Component` protocol
every component implements, the :class:`LabHost` it is started on and the
:class:`LabConfig` it may read.

A leaf module: it imports no component and not the runtime. Components depend on it,
the runtime (``runtime.Lab`` is a ``LabHost``) depends on it and on the components, so
the dependencies point one way.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI

DEFAULT_STATE_DIR = Path(".autorke/lab")


@dataclass
class LabConfig:
    machines: int = 24
    seed: int = 1
    address_base: str = "127.0.1.1"
    host: str = "127.0.0.1"
    cmdb_port: int = 8201
    cmdb_size: int = 10_000
    bastion_inner: int = 0
    isolation: str = "auto"  # "auto" | "namespaces" | "plain"
    state_dir: Path = DEFAULT_STATE_DIR
    options: dict[str, str] = field(default_factory=dict)  # for other components (--set k=v)

    def to_json(self) -> dict:
        return {**asdict(self), "state_dir": str(Path(self.state_dir).resolve())}


class LabHost(Protocol):
    """The lab as a component sees it in ``start``."""

    #: the command line's settings; ``config.options`` holds ``--set key=value``
    config: LabConfig
    #: where components keep their files (``<state dir>/<component>/...``)
    state_dir: Path
    #: the control app on the CMDB port: mount routes under ``/lab/<name>/...``
    app: FastAPI

    def has(self, name: str) -> bool:
        """Whether component ``name`` is running (started before this one)."""
        ...

    def get(self, name: str) -> Any:
        """Component ``name`` (the caller knows its class, e.g. ``get("machines").fleet``)."""
        ...

    def notice(self, text: str) -> None:
        """Tell the person starting the lab (printed and kept in state.json)."""
        ...


class Component(Protocol):
    name: str

    def start(self, lab: LabHost) -> None: ...
    def stop(self) -> None: ...
    def status(self) -> dict: ...
