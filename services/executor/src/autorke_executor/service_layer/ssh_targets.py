"""What the executor does on one machine over SSH for ``script`` and ``rke2`` jobs: open
the host's one connection, run the P2 probe guard before init/cleanup, run the named
script with quoted parameters, and turn the result into a :class:`TargetOutcome`.

The connection itself comes from the SSH adapter (passed in), so this module decides
only *what* runs and how its output is judged."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from autorke_common.catalogue.executor import ExecutorRun, Target
from autorke_executor.domain.model import TargetOutcome, needs_probe, probe_evidence
from autorke_executor.domain.script_command import UnsafeParameter, argv_command, script_command
from autorke_executor.service_layer.ports import Bastions, OutputSink, Scripts, SshConnector, SshSession

RKE2_CONFIG = "/etc/rancher/rke2/config.yaml"
#: script -> the result key its last line of JSON goes to
JSON_RESULT = {"facts": "facts", "probe": "components", "preflight": "checks",
               "etcd_snapshot": "snapshot", "etcd_snapshot_list": "snapshots"}
#: scripts whose output is only that JSON: kept out of the live log and the stored output
QUIET = ("facts", "probe", "preflight", "etcd_snapshot_list")


@dataclass
class SshWork:
    """Everything one job's targets share."""

    job: ExecutorRun
    connector: SshConnector
    bastions: Bastions
    scripts: Scripts
    failure: type[Exception]  # what the connector and its sessions raise (``error_class`` set)
    open_secret: Callable[[str], str]
    sink: Callable[[str, bool], OutputSink]  # (host, quiet) -> that host's live output
    rke2_install_command: str = ""

    def __call__(self, target: Target) -> TargetOutcome:
        start = time.monotonic()
        try:
            return self._run(target, start)
        except UnsafeParameter as exc:
            return TargetOutcome.failed(target.host, "failed", str(exc), time.monotonic() - start)
        except self.failure as exc:
            return TargetOutcome.failed(target.host, getattr(exc, "error_class", "failed"), str(exc),
                                        time.monotonic() - start)

    def _run(self, target: Target, start: float) -> TargetOutcome:
        job = self.job
        if job.kind == "rke2" and job.action == "join" and not self.rke2_install_command:
            # L7: no unchecked installer runs as root on a node
            return TargetOutcome.failed(target.host, "refused_installer", "no RKE2 installer is pinned: set "
                                        "AUTORKE_RKE2_INSTALLER_SHA256 (or AUTORKE_RKE2_INSTALL_COMMAND); "
                                        "not touched", time.monotonic() - start)
        session = self.connector.connect(target, job.connect_timeout_s, self.bastions)
        try:
            if needs_probe(job):
                refused = self._probe_guard(session, target, start)
                if refused is not None:
                    return refused
            if job.kind == "rke2":
                return self._rke2(session, target, start)
            return self._script(session, target, start)
        finally:
            session.close()

    def _left(self, start: float) -> float:
        return max(1.0, self.job.command_timeout_s - (time.monotonic() - start))

    def _probe_guard(self, session: SshSession, target: Target, start: float) -> TargetOutcome | None:
        """P2: refuse init/cleanup on a host showing any Kubernetes component."""
        command = script_command("probe", self.job.job_id)
        res = session.run(command, self.scripts.get("probe"), self._left(start))
        try:
            components = json.loads(res.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return TargetOutcome.failed(target.host, "refused_probe",
                                        "the Kubernetes-component probe gave no answer; not touched",
                                        time.monotonic() - start, res.exit_code,
                                        (res.stdout + res.stderr).decode("utf-8", "replace"))
        evidence = probe_evidence(components)
        if evidence:
            return TargetOutcome.failed(
                target.host, "refused_probe",
                f"{target.host} shows Kubernetes components; {self.job.action} refused: "
                + "; ".join(evidence), time.monotonic() - start,
                result={"evidence": evidence, "components": components})
        return None

    def _script(self, session: SshSession, target: Target, start: float) -> TargetOutcome:
        job = self.job
        args = [str(a) for a in job.params.get("args", [])]
        if job.action == "init":
            args = [str(job.params["profile"]), *args]
        env = {str(k): str(v) for k, v in (job.params.get("env") or {}).items()}
        command = script_command(job.action, job.job_id, args, env, job.change_id)
        quiet = job.action in QUIET
        res = session.run(command, self.scripts.get(job.action), self._left(start),
                          self.sink(target.host, quiet))
        out = res.stdout.decode("utf-8", "replace")
        text = out + res.stderr.decode("utf-8", "replace")
        result: dict[str, Any] = {}
        if job.action in JSON_RESULT:
            try:
                result[JSON_RESULT[job.action]] = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                if res.exit_code == 0:
                    return TargetOutcome.failed(target.host, "failed", f"{job.action} printed no JSON",
                                                time.monotonic() - start, res.exit_code, text)
        if res.exit_code != 0:
            return TargetOutcome.failed(target.host, "failed", f"{job.action} exited {res.exit_code}: "
                                        + res.stderr.decode("utf-8", "replace").strip()[-500:],
                                        time.monotonic() - start, res.exit_code, text, result)
        return TargetOutcome.ok(target.host, time.monotonic() - start, 0,
                                "" if quiet else text, result)

    def _rke2(self, session: SshSession, target: Target, start: float) -> TargetOutcome:
        job = self.job
        sink = self.sink(target.host, False)
        if job.action == "join":
            p = job.params
            config = {"server": p["server"], "token": self.open_secret(job.secrets["token"]),
                      "node-name": p.get("node_name") or target.host}
            own = (p.get("nodes") or {}).get(target.host) or {}
            labels = {**(p.get("labels") or {}), **(own.get("labels") or {})}
            taints = [*(p.get("taints") or []), *(own.get("taints") or [])]
            if labels:
                config["node-label"] = [f"{k}={v}" for k, v in labels.items()]
            if taints:
                config["node-taint"] = [f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in taints]
            if own.get("kubelet_args"):
                config["kubelet-arg"] = list(own["kubelet_args"])
            write = "umask 077 && mkdir -p /etc/rancher/rke2 && cat > " + argv_command([RKE2_CONFIG])
            res = session.run(write, yaml.safe_dump(config).encode(), self._left(start), sink)
            if res.exit_code != 0:
                return TargetOutcome.failed(target.host, "failed", "writing the rke2 config failed",
                                            time.monotonic() - start, res.exit_code,
                                            res.stderr.decode("utf-8", "replace"))
            command = script_command("rke2_join", job.job_id, [self.rke2_install_command])
            res = session.run(command, self.scripts.get("rke2_join"), self._left(start), sink)
        else:
            command = script_command("rke2_remove", job.job_id)
            res = session.run(command, self.scripts.get("rke2_remove"), self._left(start), sink)
        text = (res.stdout + res.stderr).decode("utf-8", "replace")
        if res.exit_code != 0:
            reason = res.stderr.decode("utf-8", "replace").strip()[-500:]  # e.g. the installer's checksum
            return TargetOutcome.failed(target.host, "failed", f"rke2 {job.action} exited {res.exit_code}"
                                        + (f": {reason}" if reason else ""),
                                        time.monotonic() - start, res.exit_code, text)
        return TargetOutcome.ok(target.host, time.monotonic() - start, 0, text)
