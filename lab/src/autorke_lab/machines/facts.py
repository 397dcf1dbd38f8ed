"""Simulated hardware and software of one machine, derived only from (seed, index).

The CMDB publishes these facts and the machine itself shows them (``nvidia-smi``,
``lscpu``, ``/proc/meminfo``, ``/etc/os-release``, ``uname -r``), so an inventory sync
and a fact-gathering run over SSH agree, as they would in a well-kept data centre.
Nothing here does I/O: the same seed always gives the same fleet.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

_CPUS = [
    ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", 2, 24),
    ("Intel(R) Xeon(R) Platinum 8358 CPU @ 2.60GHz", 2, 32),
    ("Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz", 2, 12),
    ("AMD EPYC 7543 32-Core Processor", 2, 32),
    ("AMD EPYC 7763 64-Core Processor", 2, 64),
]
_GPUS = [  # model, memory MiB
    ("NVIDIA A100-SXM4-80GB", 81920),
    ("NVIDIA A800 80GB PCIe", 81920),
    ("NVIDIA H800", 81559),
    ("NVIDIA GeForce RTX 3090", 24576),
    ("Tesla V100-PCIE-32GB", 32768),
    ("Tesla T4", 15360),
]
_OSES = [  # id, version, pretty name, kernel
    ("centos", "7", "CentOS Linux 7 (Core)", "3.10.0-1160.el7.x86_64"),
    ("rocky", "8.8", "Rocky Linux 8.8 (Green Obsidian)", "4.18.0-477.10.1.el8_8.x86_64"),
    ("ubuntu", "20.04", "Ubuntu 20.04.6 LTS", "5.4.0-169-generic"),
    ("ubuntu", "22.04", "Ubuntu 22.04.4 LTS", "5.15.0-105-generic"),
    ("debian", "12", "Debian GNU/Linux 12 (bookworm)", "6.1.0-21-amd64"),
]
_VENDORS = [("Dell Inc.", "PowerEdge R750"), ("Inspur", "NF5468M6"), ("Huawei", "2288H V5"),
            ("Lenovo", "ThinkSystem SR650"), ("Supermicro", "SYS-4029GP-TRT")]
_IDCS = ["idc-sh-01", "idc-sh-02", "idc-dg-01", "idc-bj-03"]
_TEAMS = ["ai-platform", "search", "recommendation", "infra", "data-platform", "speech"]
_ENVIRONMENTS = ["prod", "prod", "prod", "staging", "test"]


@dataclass(frozen=True)
class Disk:
    device: str
    size_gb: int
    type: str  # "ssd" | "nvme" | "hdd"


@dataclass(frozen=True)
class MachineFacts:
    index: int
    hostname: str
    serial: str
    vendor: str
    model: str
    cpu_model: str
    cpu_sockets: int
    cpu_cores: int  # logical CPUs
    memory_gb: int
    gpu_model: str | None
    gpu_count: int
    gpu_memory_mb: int
    disks: tuple[Disk, ...] = field(default_factory=tuple)
    os_id: str = "debian"
    os_version: str = "12"
    os_pretty: str = "Debian GNU/Linux 12 (bookworm)"
    kernel: str = "6.1.0-21-amd64"
    idc: str = ""
    rack: str = ""
    unit: int = 0
    owner_team: str = ""
    owner_contact: str = ""
    environment: str = "prod"
    management_ip: str = ""
    data_ip: str = ""
    bmc_ip: str = ""
    machine_id: str = ""

    def hardware(self) -> dict:
        return {
            "vendor": self.vendor, "model": self.model, "serial": self.serial,
            "cpu": {"model": self.cpu_model, "sockets": self.cpu_sockets, "cores": self.cpu_cores},
            "memory_gb": self.memory_gb,
            "gpu": {"model": self.gpu_model, "count": self.gpu_count,
                    "memory_mb": self.gpu_memory_mb},
            "disks": [asdict(d) for d in self.disks],
        }

    def os(self) -> dict:
        return {"id": self.os_id, "version": self.os_version, "name": self.os_pretty,
                "kernel": self.kernel}


def hostname_for(index: int) -> str:
    """Hostname of the machine with this index (1-based): m001 … m999, m1000 …"""
    return f"m{index:03d}"


def facts_for(seed: int, index: int, hostname: str | None = None) -> MachineFacts:
    """The facts of machine ``index`` (1-based) of the fleet generated from ``seed``."""
    rng = random.Random(f"autorke-lab:{seed}:{index}")
    cpu_model, sockets, per_socket = rng.choice(_CPUS)
    gpu_node = rng.random() < 0.6
    gpu_model, gpu_mem = rng.choice(_GPUS) if gpu_node else (None, 0)
    gpu_count = rng.choice([1, 2, 4, 8, 8, 8]) if gpu_node else 0
    os_id, os_version, os_pretty, kernel = rng.choice(_OSES)
    vendor, model = rng.choice(_VENDORS)
    disks = [Disk("sda", rng.choice([480, 960]), "ssd")]
    for n in range(rng.choice([1, 2, 4])):
        disks.append(Disk(f"nvme{n}n1", rng.choice([1920, 3840, 7680]), "nvme"))
    idc = _IDCS[(index - 1) // 2500 % len(_IDCS)]
    rack_no = (index - 1) // 20 + 1
    team = rng.choice(_TEAMS)
    third, fourth = divmod(index, 250)
    return MachineFacts(
        index=index,
        hostname=hostname or hostname_for(index),
        serial=f"{vendor[:2].upper()}{rng.randrange(16**8):08X}",
        vendor=vendor, model=model,
        cpu_model=cpu_model, cpu_sockets=sockets, cpu_cores=sockets * per_socket * 2,
        memory_gb=rng.choice([256, 384, 512, 768, 1024]) if gpu_node else rng.choice([128, 256, 512]),
        gpu_model=gpu_model, gpu_count=gpu_count, gpu_memory_mb=gpu_mem,
        disks=tuple(disks),
        os_id=os_id, os_version=os_version, os_pretty=os_pretty, kernel=kernel,
        idc=idc, rack=f"{idc.split('-')[1].upper()}-R{rack_no:03d}", unit=(index - 1) % 20 * 2 + 1,
        owner_team=team, owner_contact=f"{team}-oncall@example.com",
        environment=rng.choice(_ENVIRONMENTS),
        management_ip=f"10.{20 + third // 250}.{third % 250}.{fourth + 1}",
        data_ip=f"10.{120 + third // 250}.{third % 250}.{fourth + 1}",
        bmc_ip=f"10.{220 + third // 250}.{third % 250}.{fourth + 1}",
        machine_id=f"{rng.getrandbits(128):032x}",
    )
