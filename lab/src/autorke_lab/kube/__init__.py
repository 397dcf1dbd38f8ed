"""Lab Kubernetes: per-cluster API servers with real REST semantics, simulated kubelets and
hollow nodes, reached by the platform only with the official client over HTTPS.

In-process: :class:`~autorke_lab.kube.cluster.LabKubeCluster` (asyncio) or
:class:`~autorke_lab.kube.background.ClusterThread` (sync); as the lab runtime's component:
:class:`~autorke_lab.kube.fleet.KubeFleet`; from a shell: ``python -m autorke_lab.kube``;
the node agent: ``python -m autorke_lab.kube.kubelet`` (see its docstring).
"""
from .cluster import KubeClusterSettings, LabKubeCluster
from .fleet import KubeFleet

__all__ = ["KubeClusterSettings", "KubeFleet", "LabKubeCluster"]
