"""In-memory stand-ins for the executor's own ports: a unit of work with dictionaries for
repositories, machines reached over a fake SSH connector (each with what its probe finds
and a log of the commands it was sent), a fake cluster API, a fake provisioner and a
secret box that only marks values. Delivery, redelivery and real SSH are tested in
tests/integration/executor."""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Self

from autorke_common.catalogue.executor import ExecutorRun, SshEndpoint, Target
from autorke_common.envelope import Envelope
from autorke_common.signing import Verifier, parse_signers
from autorke_executor.adapters.orm import JobRow, TargetRow
from autorke_executor.adapters.repository import outcome_of, target_row
from autorke_executor.domain.model import JobHeld, TargetOutcome, signer_may_run
from autorke_executor.service_layer.handlers import RunJob
from autorke_executor.service_layer.ports import KubePort, Ports, ProvisionerPort, SshPort
from fixtures.signing import sign, trusted

SCRIPT = re.compile(r"AUTORKE_SCRIPT=(\S+)")


# -- the unit of work ------------------------------------------------------------------
class FakeJobRepository:
    def __init__(self) -> None:
        self.rows: dict[str, JobRow] = {}

    def get(self, job_id: str) -> JobRow | None:
        return self.rows.get(job_id)

    def add(self, row: JobRow) -> None:
        if row.job_id in self.rows:
            raise JobHeld(f"job {row.job_id} was started by another executor")
        self.rows[row.job_id] = row

    def claim(self, job_id: str, seen_token: int, owner: str, until) -> bool:
        row = self.rows.get(job_id)
        if row is None or row.status != "running" or row.fencing_token != seen_token:
            return False
        row.owner, row.lease_expires_at = owner, until
        row.fencing_token, row.attempts = seen_token + 1, row.attempts + 1
        return True

    def renew(self, job_id: str, owner: str, token: int, until) -> bool:
        row = self.rows.get(job_id)
        if row is None or row.status != "running" or (row.owner, row.fencing_token) != (owner, token):
            return False
        row.lease_expires_at = until
        return True

    def newest_first(self, *, change_id: str | None, status: str | None, after: Any | None,
                     limit: int) -> list[JobRow]:
        rows = [r for r in self.rows.values() if (not change_id or r.change_id == change_id)
                and (not status or r.status == status)]
        rows.sort(key=lambda r: (r.created_at, r.job_id), reverse=True)
        if after is not None:
            rows = [r for r in rows if (r.created_at, r.job_id) < (after.key, after.id)]
        return rows[:limit + 1]


class FakeTargetRepository:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, TargetRow]] = {}

    def finished(self, job_id: str) -> list[TargetRow]:
        return [r for _, r in sorted(self.rows.get(job_id, {}).items())]

    def outcomes(self, job_id: str) -> list[TargetOutcome]:
        return [outcome_of(r) for r in self.finished(job_id)]

    def add(self, job_id: str, outcome: TargetOutcome) -> None:
        by_host = self.rows.setdefault(job_id, {})
        assert outcome.host not in by_host, f"{job_id}: {outcome.host} recorded twice"  # a primary key
        by_host[outcome.host] = target_row(job_id, outcome)

    def counts(self, job_ids: list[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {j: {} for j in job_ids}
        for j in job_ids:
            for r in self.rows.get(j, {}).values():
                counts[j][r.status] = counts[j].get(r.status, 0) + 1
        return counts


class FakeUnitOfWork:
    """Repositories in dictionaries; events count as sent (``events``) and messages as
    handled (``processed``) only once committed."""

    def __init__(self) -> None:
        self.jobs = FakeJobRepository()
        self.targets = FakeTargetRepository()
        self.events: list[Envelope] = []
        self.processed: set[tuple[str, str]] = set()
        self.committed = False
        self.commits = 0
        self._pending: list[Envelope] = []
        self._marks: set[tuple[str, str]] = set()

    def __enter__(self) -> Self:
        self._pending, self._marks = [], set()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pending, self._marks = [], set()

    def emit(self, envelope: Envelope, aggregate: str | None = None) -> None:
        self._pending.append(envelope)

    def already_processed(self, consumer: str, message_id: str) -> bool:
        key = (consumer, message_id)
        if key in self.processed or key in self._marks:
            return True
        self._marks.add(key)
        return False

    def claim_large(self, value: str | None) -> str | None:
        return value  # the real one is tested against a database (test_claims.py)

    def commit(self) -> None:
        self.events += self._pending
        self.processed |= self._marks
        self._pending, self._marks = [], set()
        self.committed = True
        self.commits += 1

    def of_type(self, type_: str) -> list[dict]:
        return [e.data for e in self.events if e.type == type_]


# -- SSH -------------------------------------------------------------------------------
class FakeSshFailure(Exception):
    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


@dataclass
class FakeResult:
    exit_code: int
    stdout: bytes
    stderr: bytes = b""


@dataclass
class FakeMachine:
    """What one machine answers: its probe's findings (P2), whether it can be reached."""

    name: str
    components: dict[str, list[str]] = field(default_factory=dict)
    probe_answers: bool = True
    reachable: bool = True
    commands: list[str] = field(default_factory=list)

    def run(self, command: str, sink) -> FakeResult:
        self.commands.append(command)
        script = (SCRIPT.search(command) or [None, ""])[1]
        if script == "probe":
            if not self.probe_answers:
                return FakeResult(0, b"")
            return FakeResult(0, (json.dumps({"processes": [], "containers": [], "paths": [], "units": [],
                                              **self.components}) + "\n").encode())
        if script == "facts":
            return FakeResult(0, (json.dumps({"hostname": self.name}) + "\n").encode())
        out = f"{script}: done on {self.name}\n".encode()
        if sink:
            sink("stdout", out)
        return FakeResult(0, out)


class FakeSession:
    def __init__(self, machine: FakeMachine, lock: threading.Lock) -> None:
        self.machine, self._lock = machine, lock

    def run(self, command: str, stdin: bytes | None, timeout: float, sink=None) -> FakeResult:
        with self._lock:
            return self.machine.run(command, sink)

    def close(self) -> None:
        pass


class FakeSsh:
    """The SSH connector over a fleet of fake machines; ``connects`` lists every host a
    connection was opened to, in order."""

    def __init__(self, *machines: FakeMachine) -> None:
        self.machines = {m.name: m for m in machines}
        self.connects: list[str] = []
        self._lock = threading.Lock()

    def connect(self, target: Target, timeout: float, bastions=None) -> FakeSession:
        with self._lock:
            self.connects.append(target.host)
        machine = self.machines[target.host]
        if not machine.reachable:
            raise FakeSshFailure("unreachable", f"{target.host}: no answer within {timeout:g} s")
        return FakeSession(machine, self._lock)

    def commands(self, host: str) -> list[str]:
        return list(self.machines[host].commands)

    def scripts_run(self, host: str) -> list[str]:
        return [(SCRIPT.search(c) or [None, "?"])[1] for c in self.machines[host].commands]


class FakeBastions:
    def get(self, bastion: SshEndpoint, timeout: float) -> Any:
        raise FakeSshFailure("unreachable", "no bastions in the unit tests")

    def close(self) -> None:
        pass


class FakeScripts:
    def get(self, name: str) -> bytes:
        return f"# {name}.sh\n".encode()


# -- Kubernetes, the provisioner, secrets ------------------------------------------------
class FakeCluster:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.closed = False

    def list_nodes(self) -> dict:
        self.calls.append(("list_nodes", ""))
        return {"nodes": []}

    def cordon(self, node: str, on: bool = True) -> dict:
        self.calls.append(("cordon" if on else "uncordon", node))
        return {"unschedulable": on}

    def drain(self, node: str, timeout_s: float, grace_period_s: int | None = None) -> dict:
        self.calls.append(("drain", node))
        return {"evicted": []}

    def label(self, node: str, labels: dict) -> dict:
        self.calls.append(("label", node))
        return {"labels": labels}

    def taint(self, node: str, add: list[dict], remove: list[str]) -> dict:
        self.calls.append(("taint", node))
        return {"taints": add}

    def delete_node(self, node: str) -> dict:
        self.calls.append(("delete_node", node))
        return {"deleted": True}

    def wait_ready(self, node: str, timeout_s: float) -> dict:
        self.calls.append(("wait_ready", node))
        return {"ready": True}

    def close(self) -> None:
        self.closed = True


class FakeKubeFailure(Exception):
    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


@dataclass
class FakeRkeRun:
    exit_code: int | None = 0
    output: str = "rke: done"
    rkestate: str | None = '{"currentState": {}}'
    timed_out: bool = False
    kubeconfig: str | None = None


class FakeProvisioner:
    def __init__(self) -> None:
        self.runs: list[str] = []
        self.cluster_ymls: list[str] = []  # what each run was given

    def __call__(self, binary: str, action: str, cluster_yml: str, rkestate: str | None, timeout_s: float,
                 on_line, snapshot_name: str | None = None) -> FakeRkeRun:
        self.runs.append(action)
        self.cluster_ymls.append(cluster_yml)
        on_line("rke: done")
        return FakeRkeRun()


class FakeSecrets:
    """Seals by marking: ``sealed:<text>``."""

    def open(self, sealed: str) -> str:
        assert sealed.startswith("sealed:"), "only sealed values are opened"
        return sealed.removeprefix("sealed:")

    def seal(self, plaintext: str) -> str:
        return "sealed:" + plaintext


@dataclass
class Fleet:
    """The fake ports of one test, and the ``Ports`` they make."""

    ssh: FakeSsh
    cluster: FakeCluster = field(default_factory=FakeCluster)
    provisioner: FakeProvisioner = field(default_factory=FakeProvisioner)
    kubeconfigs: list[str] = field(default_factory=list)

    @property
    def ports(self) -> Ports:
        def cluster(kubeconfig: str) -> FakeCluster:
            self.kubeconfigs.append(kubeconfig)
            return self.cluster

        return Ports(ssh=SshPort(connector=lambda: self.ssh, bastions=lambda _c: FakeBastions(),
                                 failure=FakeSshFailure, scripts=FakeScripts()),
                     kube=KubePort(cluster=cluster, failure=FakeKubeFailure),
                     provisioner=ProvisionerPort(run=self.provisioner, binary="rke",
                                                 ssh_key_path="/executor/fleet-key"),
                     secrets=FakeSecrets(), verifier=executor_verifier())


def fleet(*machines: str | FakeMachine) -> Fleet:
    """Fake machines: a name is a clean, reachable machine."""
    return Fleet(FakeSsh(*(FakeMachine(m) if isinstance(m, str) else m for m in machines)))


def target(name: str) -> Target:
    return Target(host=name, address="192.0.2.1", port=22, host_key="ssh-ed25519 AAAA")


def executor_verifier() -> Verifier:
    """The executor's verifier as bootstrap builds it, trusting the tests' two signers."""
    return Verifier(parse_signers(trusted()), 3600.0,
                    lambda name, env: signer_may_run(name, env.data.get("kind"), env.data.get("action")))


def command(job: ExecutorRun, actor: str = "tests", signed_by: str | None = "orchestrator") -> RunJob:
    """The job as one delivery of a new ``executor.run`` envelope, signed by the tests'
    orchestrator key (``signed_by=None``: unsigned)."""
    env = Envelope.of(job, source="tests", correlation_id=job.change_id, actor=actor)
    return RunJob(job, sign(env, signed_by) if signed_by else env)
