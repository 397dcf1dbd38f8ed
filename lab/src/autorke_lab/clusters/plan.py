"""Which lab machines go into which lab cluster, with which roles: decided from the
``--set clusters.*`` options and the machines the fleet has, before anything is touched.

Pure (no I/O), so the rules are easy to read and to test:

- RKE1 gets the first machines, RKE2 the next ones; bastion and inner machines are never
  used; the rest stay free for the platform to add, init and clean up;
- a cluster of ``n`` machines has 3 core nodes (``controlplane`` + ``etcd``) when
  ``n >= 4``, else 1; the others are workers; a one-machine cluster is one node with
  every role;
- when the requested clusters do not fit, they are shrunk to half of the usable machines
  together (the default 6 + 6 on the default 24 leaves half free too), RKE2 taking the odd
  one; a cluster left with no machine is skipped; each shrink or skip is a notice.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CORE = ("controlplane", "etcd")
WORKER = ("worker",)
ALL_ROLES = ("controlplane", "etcd", "worker")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class PlanError(ValueError):
    """A ``clusters.*`` option has a value the lab cannot use."""


@dataclass(frozen=True)
class ClusterOptions:
    enabled: bool = True
    rke1_name: str = "rke1-lab"
    rke2_name: str = "rke2-lab"
    rke1_machines: int = 6
    rke2_machines: int = 6
    heartbeat_seconds: float = 5.0  # RKE2 agents' heartbeat (RKE1 kubelets use their own 10 s)
    timeout_seconds: float = 90.0   # per cluster, for every node to be Ready

    @classmethod
    def from_options(cls, options: dict[str, str]) -> ClusterOptions:
        def get(key: str, default):
            raw = options.get(f"clusters.{key}")
            if raw is None:
                return default
            if isinstance(default, bool):
                if raw.lower() not in (*_TRUE, *_FALSE):
                    raise PlanError(f"clusters.{key}={raw!r}: expected true or false")
                return raw.lower() in _TRUE
            try:
                value = type(default)(raw)
            except ValueError:
                raise PlanError(f"clusters.{key}={raw!r}: expected {type(default).__name__}") from None
            if isinstance(value, int | float) and value < 0:
                raise PlanError(f"clusters.{key}={raw!r}: must not be negative")
            return value

        return cls(**{k: get(k, v) for k, v in cls().__dict__.items()})


@dataclass(frozen=True)
class Member:
    machine: str
    address: str
    port: int
    roles: tuple[str, ...]

    @property
    def core(self) -> bool:
        return "controlplane" in self.roles


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    provider: str  # "rke1" | "rke2"
    members: tuple[Member, ...]


@dataclass
class Layout:
    clusters: list[ClusterPlan] = field(default_factory=list)
    free: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def roles_for(size: int) -> list[tuple[str, ...]]:
    """Roles of the nodes of a cluster of ``size`` machines, in machine order."""
    if size <= 0:
        return []
    if size == 1:
        return [ALL_ROLES]
    core = 3 if size >= 4 else 1
    return [CORE] * core + [WORKER] * (size - core)


def plan(machines: list[tuple[str, str, int]], opts: ClusterOptions) -> Layout:
    """``machines``: usable ``(name, address, port)`` in fleet order."""
    layout = Layout()
    requested = {"rke1": opts.rke1_machines, "rke2": opts.rke2_machines}
    names = {"rke1": opts.rke1_name, "rke2": opts.rke2_name}
    sizes = dict(requested)
    if sum(requested.values()) > len(machines):
        budget = len(machines) // 2
        sizes["rke2"] = min(requested["rke2"], budget - budget // 2)
        sizes["rke1"] = min(requested["rke1"], budget - sizes["rke2"])
        sizes["rke2"] = min(requested["rke2"], budget - sizes["rke1"])
        layout.notices.append(
            f"lab clusters: {sum(requested.values())} machines requested but only "
            f"{len(machines)} usable; building {names['rke1']} on {sizes['rke1']} and "
            f"{names['rke2']} on {sizes['rke2']}, half the machines stay free "
            "(more machines: `lab up -n N`)")
    taken = 0
    for provider in ("rke1", "rke2"):
        size = sizes[provider]
        if size == 0:
            if requested[provider]:
                layout.notices.append(f"lab clusters: {names[provider]} skipped (no machine left)")
            continue
        chosen = machines[taken:taken + size]
        taken += size
        layout.clusters.append(ClusterPlan(names[provider], provider, tuple(
            Member(name, address, port, roles)
            for (name, address, port), roles in zip(chosen, roles_for(size), strict=True))))
    layout.free = [name for name, _, _ in machines[taken:]]
    return layout
