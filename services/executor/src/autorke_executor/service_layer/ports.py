"""The adapters a job's work needs, as the service layer sees them: SSH (``adapters.ssh``
and the scripts of ``adapters.scripts``), the Kubernetes API (``adapters.kube``), the
provisioner binary (``adapters.rke``), the platform's secret box and the verifier of
signed commands. Bootstrap wires the real ones into :class:`Ports`; the unit tests wire
fakes."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from autorke_common import claims
from autorke_common.catalogue.executor import SshEndpoint, Target
from autorke_common.envelope import Envelope

OutputSink = Callable[[str, bytes], None]  # (stream "stdout"|"stderr", chunk)


class CommandResult(Protocol):
    exit_code: int
    stdout: bytes
    stderr: bytes


class SshSession(Protocol):
    """One authenticated connection to one host, reused for every command of a job."""

    def run(self, command: str, stdin: bytes | None, timeout: float,
            sink: OutputSink | None = None) -> CommandResult: ...

    def close(self) -> None: ...


class Bastions(Protocol):
    """A job's connections to its bastions, shared by the targets behind them."""

    def get(self, bastion: SshEndpoint, timeout: float) -> Any: ...

    def close(self) -> None: ...


class SshConnector(Protocol):
    def connect(self, target: Target, timeout: float, bastions: Bastions | None = None) -> SshSession:
        """A session on ``target``, its host key checked; the port's ``failure`` when not."""
        ...


class Scripts(Protocol):
    def get(self, name: str) -> bytes:
        """The named script, composed with its libraries, as sent on stdin."""
        ...


class KubeCluster(Protocol):
    """One cluster's API (``adapters.kube.Cluster``); every call returns what the target's
    result records."""

    def list_nodes(self) -> dict: ...

    def cordon(self, node: str, on: bool = True) -> dict: ...

    def drain(self, node: str, timeout_s: float, grace_period_s: int | None = None) -> dict: ...

    def label(self, node: str, labels: dict[str, str | None]) -> dict: ...

    def taint(self, node: str, add: list[dict], remove: list[str]) -> dict: ...

    def delete_node(self, node: str) -> dict: ...

    def wait_ready(self, node: str, timeout_s: float) -> dict: ...

    def close(self) -> None: ...


class ProvisionerRun(Protocol):
    """How one run of the provisioner ended (``adapters.rke.RkeRun``)."""

    exit_code: int | None
    output: str
    rkestate: str | None
    timed_out: bool
    kubeconfig: str | None


class RunProvisioner(Protocol):
    def __call__(self, binary: str, action: str, cluster_yml: str, rkestate: str | None, timeout_s: float,
                 on_line: Callable[[str], None], snapshot_name: str | None = None) -> ProvisionerRun: ...


class Verifier(Protocol):
    """The trusted signers of commands (``autorke_common.signing.Verifier``)."""

    def verify(self, envelope: Envelope) -> str:
        """The signer's name; raises the refusal (``unsigned-command``, ``bad-signature``)."""
        ...


class Claims(Protocol):
    """Where a claim reference is fetched (``autorke_common.claims.ClaimClient``)."""

    def resolve(self, value: str) -> str:
        """``value`` itself, or the sealed value its reference names."""
        ...


class InlineOnly:
    """No claim client (no signing key): inline values only, a reference is refused."""

    def resolve(self, value: str) -> str:
        return claims.inline_only(value)


class Secrets(Protocol):
    """The platform's secret box (``autorke_common.secrets.SecretBox``)."""

    def open(self, sealed: str) -> str: ...

    def seal(self, plaintext: str) -> str: ...


@dataclass(frozen=True)
class SshPort:
    connector: Callable[[], SshConnector]  # one per process, made at the first SSH job (reads the key)
    bastions: Callable[[SshConnector], Bastions]  # a fresh bastion cache for one job
    failure: type[Exception]  # what connect and run raise; its ``error_class`` is the target's
    scripts: Scripts
    rke2_install_command: str = ""


@dataclass(frozen=True)
class KubePort:
    cluster: Callable[[str], KubeCluster]  # kubeconfig text -> the cluster's API
    failure: type[Exception]  # what a cluster call raises; its ``error_class`` is the target's


@dataclass(frozen=True)
class ProvisionerPort:
    run: RunProvisioner
    binary: str  # the RKE1 binary (lab: autorke-lab-rke)
    ssh_key_path: str  # the executor's own SSH key: the one every rke run dials with


@dataclass(frozen=True)
class Ports:
    """Everything a job's plan may use, wired once in bootstrap."""

    ssh: SshPort
    kube: KubePort
    provisioner: ProvisionerPort
    secrets: Secrets
    verifier: Verifier  # every command is checked against it before anything else (C2)
    claims: Claims = field(default_factory=InlineOnly)  # where a job's secrets are fetched
