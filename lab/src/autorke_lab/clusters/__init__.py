"""Lab clusters on lab machines, built at ``autorke lab up`` (and ``autorke up``).

By default one RKE1 cluster ``rke1-lab`` (the first 6 machines: 3 ``[controlplane,
etcd]`` + 3 ``[worker]``, built by the ``rke`` stand-in from a cluster.yml) and one RKE2
cluster ``rke2-lab`` (the next 6: 3 servers + 3 agents, joined one by one with the RKE2
stand-in); every other machine stays free. Each is served by the ``kube`` component's
API of the same name. Files under ``<state dir>/clusters/``: ``known_hosts``;
``rke1-lab/{cluster.yml, cluster.rkestate, kube_config_cluster.yml, rke.log}``;
``rke2-lab/node-token`` (the join token, 0600).

Options (``--set key=value``): ``clusters.enabled`` (true), ``clusters.rke1_machines``
(6), ``clusters.rke2_machines`` (6; 0 skips a cluster), ``clusters.rke1_name``,
``clusters.rke2_name``, ``clusters.heartbeat_seconds`` (5, RKE2 agents),
``clusters.timeout_seconds`` (90). Too few machines: smaller clusters, with a notice
(:mod:`.plan`).

How the platform finds them: ``autorke lab status --json`` → ``components.clusters``::

    {"clusters": [
       {"name": "rke1-lab", "provider": "rke1", "ready": true,
        "api_url": "https://127.0.0.1:6444", "kubeconfig": ".../kube_config_cluster.yml",
        "cluster_yml": ".../cluster.yml", "rkestate": ".../cluster.rkestate",
        "log": ".../rke.log", "cluster_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16",
        "nodes": [{"machine": "m001", "hostname": "m001", "address": "127.0.1.1",
                   "port": 22, "roles": ["controlplane", "etcd"]}, ...]},
       {"name": "rke2-lab", "provider": "rke2", "ready": true,
        "api_url": "https://127.0.0.1:6443", "server_url": "https://127.0.0.1:6443",
        "join_token_file": ".../rke2-lab/node-token", "kubeconfig": ".../kube/rke2-lab/kubeconfig.yaml",
        "nodes": [{"machine": "m007", ..., "roles": ["controlplane", "etcd"], "rke2_type": "server"},
                  {"machine": "m010", ..., "roles": ["worker"], "rke2_type": "agent"}, ...]}],
     "free_machines": ["m013", ...], "skipped": null, "wiped_leftovers_on": [],
     "provisioners": {"rke_binary": ".../bin/autorke-lab-rke",
                      "rke2_install_command":
                          "env INSTALL_RKE2_TYPE=agent ... -m autorke_lab.provisioners.rke2.install"},
     "started_in_seconds": 4.2}

``provisioners`` is what the platform's executor needs to add nodes to these clusters
(its ``rke_binary`` and ``rke2_install_command`` settings); ``autorke up`` passes them on.

Paths only, never a token or a key. A failed cluster has ``"ready": false`` and ``error``.
The same membership is visible through each cluster's API (node names are the machine
names, role labels ``node-role.kubernetes.io/*``) and, for RKE1, in cluster.yml.
"""
from .component import ClustersComponent

__all__ = ["ClustersComponent"]
