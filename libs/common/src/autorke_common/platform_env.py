"""Where things listen by default (DESIGN.md section 3) and the settings the services get
when ``autorke up`` runs them against the lab: one mapping from the lab's published status
to ``AUTORKE_*`` variables, so no service knows it is talking to the lab."""
from __future__ import annotations

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


def _read(path: str | None) -> str | None:
    return Path(path).read_text().strip() if path and Path(path).exists() else None


def lab_environment(lab: dict, port: dict[str, int]) -> dict[str, str]:
    """``AUTORKE_*`` settings that point every service at the running lab."""
    components = lab.get("components", {})
    idp = components.get("idp", {})
    vcalico = components.get("vcalico", {})
    env: dict[str, str] = {
        "AUTORKE_INVENTORY_URL": f"http://127.0.0.1:{port['inventory']}",
        "AUTORKE_ORCHESTRATOR_URL": f"http://127.0.0.1:{port['orchestrator']}",
        "AUTORKE_EXECUTOR_URL": f"http://127.0.0.1:{port['executor']}",
        "AUTORKE_NETCFG_URL": f"http://127.0.0.1:{port['netcfg']}",
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
