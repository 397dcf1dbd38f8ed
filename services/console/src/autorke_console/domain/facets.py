"""The one-line summary of each of a machine's four facets (hardware, software,
Kubernetes, network) for a table row: the few fields an operator scans for, in a fixed
order, so rows line up and nothing shifts as facts arrive."""
from __future__ import annotations

from typing import Any


def _gpu(hw: dict[str, Any]) -> str | None:
    gpu = hw.get("gpu")
    if isinstance(gpu, dict) and gpu.get("model"):
        return f"{gpu.get('count') or 1}× {gpu['model']}"
    return None


def _cpu(cpu: Any) -> str | None:
    if isinstance(cpu, dict):
        cores = cpu.get("cores") or cpu.get("count")
        return f"{cores} cores" if cores else cpu.get("model")
    return f"{cpu} CPU" if cpu else None


def summary(machine: dict[str, Any]) -> dict[str, str]:
    hw = machine.get("hardware") or {}
    sw = machine.get("software") or {}
    k8s = machine.get("kubernetes") or {}
    net = machine.get("network") or {}
    parts = {
        "hardware": [_cpu(hw.get("cpu")),
                     f"{hw['memory_gb']} GB" if hw.get("memory_gb") else None, _gpu(hw)],
        "software": [" ".join(str(x) for x in (sw.get("os"), sw.get("os_version")) if x) or None,
                     sw.get("kernel"), sw.get("container_runtime")],
        "kubernetes": [k8s.get("node_condition"), ",".join(k8s.get("roles") or []) or None,
                       k8s.get("kubelet_version") or k8s.get("version")],
        "network": [f"rack {net['rack']}" if net.get("rack") else None, net.get("site"),
                    net.get("data_ip")],
    }
    return {facet: " · ".join(str(v) for v in values if v) or "—" for facet, values in parts.items()}
