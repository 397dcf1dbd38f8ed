"""The RKE2 lab cluster, joined node by node as RKE2 is: on each machine, over SSH and in
parallel, the installer (``INSTALL_RKE2_TYPE=server`` for core nodes, ``agent`` for
workers), ``/etc/rancher/rke2/config.yaml`` with ``server``, ``token``, ``node-name``,
``node-ip`` (sent on stdin, mode 0600: the token never appears in a command line or a
command log), then ``systemctl enable --now rke2-server|rke2-agent``. Each node registers
itself with the cluster's lab API; the build is done when all are Ready.

A lab server is the RKE2 stand-in's ``rke2 server``: the simulated kubelet registered
with the server role labels (control-plane, etcd, master), which also writes the node
token and ``rke2.yaml`` on the machine; the lab API plays the servers' API server and
supervisor. So ``server_url`` in the status is that API's URL (where a real agent would
use ``https://<server>:9345``), and ``join_token_file`` holds the ``K10…`` token (0600)
that an agent needs to join, the way an operator copies a server's node-token.
"""
from __future__ import annotations

import os
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from ..machines.machine import Machine
from ..provisioners.rke.kubeapi import LabAPI, wait_ready
from ..provisioners.rke.ssh import SSHFailure
from ..provisioners.rke2 import install_command, join_token
from ..provisioners.rke2.agent import CONFIG
from .access import open_session
from .plan import ClusterPlan, Member
from .rke1 import BuildFailed

WORKER_LABEL = "node-role.kubernetes.io/worker=true"


def write_join_token(path: Path, ca_pem: bytes, bearer: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(join_token(ca_pem, bearer) + "\n")
    os.replace(tmp, path)
    return path


def node_config(member: Member, server_url: str, token: str) -> dict:
    config: dict = {"server": server_url, "token": token, "node-name": member.machine,
                    "node-ip": member.address}
    if member.core and "worker" in member.roles:  # a one-node cluster: its server works too
        config["node-label"] = [WORKER_LABEL]
    return config


def join(machine: Machine, member: Member, *, key: Path, known_hosts: Path, kube_dir: Path,
         server_url: str, token: str, heartbeat: float) -> None:
    kind = "server" if member.core else "agent"
    session = open_session(machine, key, known_hosts)
    try:
        session.run(shlex.split(install_command(kube_dir, heartbeat_s=heartbeat, kind=kind)))
        session.write_file(str(CONFIG), yaml.safe_dump(node_config(member, server_url, token)).encode(),
                           mode="0600")
        session.run(["systemctl", "enable", "--now", f"rke2-{kind}"])
    finally:
        session.close()


def build(plan: ClusterPlan, machines: dict[str, Machine], *, key: Path, known_hosts: Path,
          api_kubeconfig: Path, kube_dir: Path, token_file: Path, heartbeat: float,
          timeout: float) -> dict:
    """Join every member; wait until all are Ready. The files and URLs, for the status."""
    api = LabAPI.from_kubeconfig(api_kubeconfig)
    write_join_token(token_file, api.ca_pem, api.token)
    token = token_file.read_text().strip()
    with ThreadPoolExecutor(max_workers=min(16, len(plan.members))) as pool:
        futures = {m.machine: pool.submit(join, machines[m.machine], m, key=key,
                                          known_hosts=known_hosts, kube_dir=kube_dir,
                                          server_url=api.server, token=token, heartbeat=heartbeat)
                   for m in plan.members}
    errors = []
    for name, fut in futures.items():
        try:
            fut.result()
        except SSHFailure as exc:  # one node's failure is reported with the others'
            errors.append(f"{name}: {exc}")
    if errors:
        raise BuildFailed("RKE2 join failed on " + "; ".join(errors))
    with api.client() as client:
        missing = wait_ready(client, [m.machine for m in plan.members], timeout)
    if missing:
        raise BuildFailed(f"RKE2 nodes not Ready after {timeout:.0f} s: {', '.join(missing)}")
    return {"server_url": api.server, "join_token_file": str(token_file),
            "kubeconfig": str(api_kubeconfig)}
