"""What RKE1 runs on a node for each role, as lab docker stand-in containers, and the
simulated kubelet that makes the node real to the lab Kubernetes API.

RKE1 runs every component as a docker container with host networking: etcd (and
``etcd-rolling-snapshots``) on etcd hosts; kube-apiserver, kube-controller-manager and
kube-scheduler on control-plane hosts; kubelet, kube-proxy and service-sidekick on every
host, plus nginx-proxy on hosts without the control plane (``services/*.go``). The lab's
docker runs placeholders, so the node's kubelet behaviour comes from a simulated kubelet
started as the ``autorke-lab-kubelet`` unit through the machine's systemctl; it registers
the node with the role labels and taints RKE gives it.
"""
from __future__ import annotations

import shlex

from .config import Node

TOOLS_IMAGE = "rancher/rke-tools:v0.1.100"
KUBE_IMAGE = "rancher/hyperkube:{version}"
ETCD_IMAGE = "rancher/mirrored-coreos-etcd:v3.5.12"
KUBELET_UNIT = "autorke-lab-kubelet"
KUBELET_UNIT_PATH = f"/etc/systemd/system/{KUBELET_UNIT}.service"
NODE_KUBECONFIG = "/etc/kubernetes/ssl/kubecfg-kube-node.yaml"
SNAPSHOT_DIR = "/opt/rke/etcd-snapshots"
STATE_DIRS = ("/etc/kubernetes", "/var/lib/etcd", "/var/lib/kubelet", "/var/lib/rancher",
              "/var/run/calico", "/etc/cni", "/opt/cni", "/var/log/kube-audit")

ETCD = ("etcd", "etcd-rolling-snapshots")
CONTROL = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
WORKER = ("kubelet", "kube-proxy", "service-sidekick")
ALL = (*ETCD, *CONTROL, *WORKER, "nginx-proxy")


def k8s_version(rke_version: str) -> str:
    """``v1.28.15-rancher1-1`` → ``v1.28.15``."""
    return rke_version.split("-", 1)[0]


def plane(node: Node) -> dict[str, tuple[str, ...]]:
    """The containers of each plane on ``node`` (worker plane on every host, as RKE)."""
    planes = {"etcd": (), "controlplane": (), "worker": WORKER}
    if "etcd" in node.roles:
        planes["etcd"] = ETCD
    if "controlplane" in node.roles:
        planes["controlplane"] = CONTROL
    else:
        planes["worker"] = (*WORKER, "nginx-proxy")
    return planes


def docker_run(name: str, node: Node, version: str) -> list[str]:
    image = {
        "etcd": ETCD_IMAGE,
        "etcd-rolling-snapshots": TOOLS_IMAGE,
        "service-sidekick": TOOLS_IMAGE,
        "nginx-proxy": TOOLS_IMAGE,
    }.get(name, KUBE_IMAGE.format(version=version))
    argv = ["docker", "run", "-d", "--name", name, "--restart=always", "--net=host",
            "-v", "/etc/kubernetes:/etc/kubernetes:z",
            "-l", "io.rancher.rke.container.name=" + name, image]
    if name == "etcd":
        argv += ["/usr/local/bin/etcd", f"--name=etcd-{node.hostname}",
                 f"--advertise-client-urls=https://{node.internal_address}:2379",
                 "--data-dir=/var/lib/rancher/etcd/"]
    elif name in (*CONTROL, "kubelet", "kube-proxy"):
        argv += [name, f"--hostname-override={node.hostname}"]
    return argv


def role_labels(node: Node) -> dict[str, str]:
    labels = {f"node-role.kubernetes.io/{r}": "true" for r in node.roles}
    return {**labels, **node.labels}


def role_taints(node: Node) -> list[str]:
    """RKE taints hosts that are not workers, plus the taints from cluster.yml."""
    taints = []
    if "worker" not in node.roles:
        if "controlplane" in node.roles:
            taints.append("node-role.kubernetes.io/controlplane=true:NoSchedule")
        if "etcd" in node.roles:
            taints.append("node-role.kubernetes.io/etcd=true:NoExecute")
    for t in node.taints:
        taints.append(f"{t['key']}={t.get('value', '')}:{t.get('effect', 'NoSchedule')}")
    return taints


def kubelet_unit(node: Node, python: str, env: dict[str, str], version: str) -> str:
    """The systemd unit of the simulated kubelet behind the ``kubelet`` container."""
    argv = [
        python, "-m", "autorke_lab.kube.kubelet",
        "--kubeconfig", NODE_KUBECONFIG,
        "--node-name", node.hostname,
        "--address", node.internal_address,
        "--labels", ",".join(f"{k}={v}" for k, v in sorted(role_labels(node).items())),
        "--taints", ",".join(role_taints(node)),
        "--kubelet-version", version,
    ]
    return (
        "[Unit]\nDescription=AutoRKE lab simulated kubelet (the RKE kubelet container's node)\n\n"
        "[Service]\n"
        + (f"Environment={shlex.join(f'{k}={v}' for k, v in env.items())}\n" if env else "")
        + f"ExecStart={shlex.join(argv)}\nRestart=always\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
