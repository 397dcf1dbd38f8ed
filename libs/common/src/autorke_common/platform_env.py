"""Where things listen by default (DESIGN.md section 3) and the settings the services get
when ``autorke up`` runs them against the lab: one mapping from the lab's published status
to ``AUTORKE_*`` variables, so no service knows it is talking to the lab.

With ``--replicas N`` replica ``i`` (from 0) of a service listens on its default port plus
``i * REPLICA_PORT_STRIDE``, and every URL setting names all of a service's replicas
(:mod:`autorke_common.replicas`). With ``--nats-cluster K`` node ``i`` of the NATS cluster
takes the client port ``nats + i``, the route port ``nats + 10 + i`` and the monitoring
port ``nats + 20 + i``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORTS: dict[str, int] = {
    "console": 8080,
    "inventory": 8101,
    "orchestrator": 8102,
    "executor": 8103,
    "netcfg": 8104,
    "cmdb": 8201,
    "vcalico": 8202,
    "idp": 8203,
    "nats": 4250,
    "kube": 6443,
}


SERVICES_WITH_URLS = ("inventory", "orchestrator", "executor", "netcfg")
REPLICA_PORT_STRIDE = 20
MAX_REPLICAS = 4  # so the last replica's port stays below the lab's (8104 + 3 * 20 < 8201)


def replica_port(port: int, index: int) -> int:
    return port + index * REPLICA_PORT_STRIDE


def service_urls(port: dict[str, int], replicas: int = 1) -> dict[str, str]:
    """Every service's URL setting, naming all its replicas (comma-separated)."""
    return {f"AUTORKE_{name.upper()}_URL": ",".join(f"http://127.0.0.1:{replica_port(port[name], i)}"
                                                      for i in range(replicas))
            for name in SERVICES_WITH_URLS}


@dataclass(frozen=True)
class NatsNode:
    """One server of the NATS cluster ``autorke up --nats-cluster`` runs."""

    index: int
    client_port: int
    route_port: int
    monitor_port: int

    @property
    def name(self) -> str:
        return f"nats-{self.index}"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def health_url(self) -> str:
        """200 once the server is up and, in a cluster, JetStream has a meta leader."""
        return f"http://127.0.0.1:{self.monitor_port}/healthz"


def nats_nodes(port: int, count: int) -> list[NatsNode]:
    return [NatsNode(i, port + i, port + 10 + i, port + 20 + i) for i in range(count)]


def _read(path: str | None) -> str | None:
    return Path(path).read_text().strip() if path and Path(path).exists() else None


def lab_environment(lab: dict, port: dict[str, int], replicas: int = 1) -> dict[str, str]:
    """``AUTORKE_*`` settings that point every service at the running lab."""
    components = lab.get("components", {})
    idp = components.get("idp", {})
    vcalico = components.get("vcalico", {})
    env: dict[str, str] = {
        **service_urls(port, replicas),
        "AUTORKE_CONSOLE_URL": f"http://127.0.0.1:{port['console']}",
        # the lab's console is plain HTTP on localhost: a Secure cookie would not come back in every browser
        "AUTORKE_SESSION_HTTPS_ONLY": "false",
    }
    if idp.get("issuer"):
        env["AUTORKE_OIDC_ISSUER"] = idp["issuer"]
    console_client = idp.get("console_client") or {}
    if console_client.get("secret"):
        env["AUTORKE_OIDC_CLIENT_ID"] = console_client["id"]
        env["AUTORKE_OIDC_CLIENT_SECRET"] = console_client["secret"]
    if lab.get("cmdb_url"):
        env["AUTORKE_CMDB_URL"] = lab["cmdb_url"]
    ssh = lab.get("ssh", {})
    if ssh.get("private_key"):
        env["AUTORKE_SSH_KEY_PATH"] = ssh["private_key"]
        env["AUTORKE_SSH_USER"] = ssh.get("user", "root")
    if vcalico.get("url"):
        env["AUTORKE_VCALICO_URL"] = vcalico["url"]
        secret = _read(vcalico.get("secret_file"))
        if secret:
            env["AUTORKE_VCALICO_SECRET"] = secret
    # How the executor provisions nodes of the lab's clusters (the rke stand-in, the RKE2
    # stand-in's installer), as the lab publishes it: without them no node could join.
    provisioners = components.get("clusters", {}).get("provisioners") or {}
    if provisioners.get("rke_binary"):
        env["AUTORKE_RKE_BINARY"] = provisioners["rke_binary"]
    if provisioners.get("rke2_install_command"):
        env["AUTORKE_RKE2_INSTALL_COMMAND"] = provisioners["rke2_install_command"]
    return env
