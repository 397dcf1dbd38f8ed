"""The few Kubernetes API calls the rke stand-in makes after deploying (RKE's
``ConfigureCluster``: wait for nodes, sync labels and taints, uncordon), over HTTPS with
the lab cluster's CA and admin token read from the lab kubeconfig."""
from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml


@dataclass(frozen=True)
class LabAPI:
    server: str
    ca_pem: bytes
    token: str

    @classmethod
    def from_kubeconfig(cls, path: Path) -> LabAPI:
        cfg = yaml.safe_load(path.read_text())
        ctx_name = cfg.get("current-context") or cfg["contexts"][0]["name"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        ca = base64.b64decode(cluster["certificate-authority-data"])
        return cls(cluster["server"], ca, user["token"])

    def kubeconfig(self, cluster: str, user: str) -> dict:
        ca = base64.b64encode(self.ca_pem).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": self.server,
                                                        "certificate-authority-data": ca}}],
            "users": [{"name": user, "user": {"token": self.token}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
            "current-context": cluster,
        }

    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        return httpx.Client(
            base_url=self.server, verify=context, timeout=10.0,
            headers={"Authorization": f"Bearer {self.token}"},
        )


def node_ready(node: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions", [])
    )


def wait_ready(client: httpx.Client, names: list[str], timeout_s: float) -> list[str]:
    """Wait until every named node is Ready; return the ones that are not."""
    deadline = time.monotonic() + timeout_s
    missing = list(names)
    while True:
        items = client.get("/api/v1/nodes").raise_for_status().json().get("items", [])
        ready = {n["metadata"]["name"] for n in items if node_ready(n)}
        missing = [n for n in names if n not in ready]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.2)


def patch_node(client: httpx.Client, name: str, patch: dict) -> None:
    client.patch(
        f"/api/v1/nodes/{name}", json=patch,
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    ).raise_for_status()


def delete_node(client: httpx.Client, name: str) -> None:
    r = client.delete(f"/api/v1/nodes/{name}")
    if r.status_code not in (200, 202, 404):
        r.raise_for_status()
