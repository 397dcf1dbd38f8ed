"""How fast the lab starts real SSH machines: 200 (the issue's bar: under 15 s) and 1,000.

Runs the fleet alone (no CMDB), cold (fresh state dir: keys and overlay dirs are made as
part of the start), measures start-to-ready (every sshd listening), memory (PSS of all
the fleet's processes), a paramiko check on a sample of machines, and the time to end
everything; writes its section of bench/RESULTS.md.

    uv run python bench/lab_machines.py [--sizes 200,1000] [--repeat 1]
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import paramiko
from _results import write_section  # bench/ is on sys.path when a script runs

from autorke_lab.machines.addresses import lease_free_range
from autorke_lab.machines.fleet import Fleet, FleetConfig
from autorke_lab.machines.namespaces import processes_by_mount_ns

BEGIN, END = "<!-- lab_machines:begin -->", "<!-- lab_machines:end -->"


def pss_mb(namespaces: set[str]) -> float:
    total = 0
    for ns, pids in processes_by_mount_ns().items():
        if ns not in namespaces:
            continue
        for pid in pids:
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
                total += int(re.search(r"^Pss:\s+(\d+)", text, re.MULTILINE).group(1))
            except (OSError, AttributeError):
                pass
    return total / 1024


def check_sample(fleet: Fleet, sample: int) -> int:
    key = paramiko.Ed25519Key.from_private_key_file(fleet.ssh["private_key"])
    ok = 0
    step = max(1, len(fleet.machines) // sample)
    for m in fleet.machines[::step][:sample]:
        c = paramiko.SSHClient()
        c.set_missing_host_key_policy(paramiko.RejectPolicy())
        c.get_host_keys().add(m.spec.address, "ssh-ed25519",
                              paramiko.PKey.from_type_string("ssh-ed25519",
                                                             base64.b64decode(m.host_key.split()[1])))
        c.connect(m.spec.address, m.spec.port, username="root", pkey=key, look_for_keys=False,
                  allow_agent=False, timeout=10)
        _, out, _ = c.exec_command("hostname")
        ok += out.read().decode().strip() == m.name
        c.close()
    return ok


def run_once(count: int) -> dict:
    lease = lease_free_range()
    try:
        with tempfile.TemporaryDirectory(prefix="autorke-bench-") as tmp:
            fleet = Fleet(FleetConfig(count=count, address_base=lease.base, state_dir=Path(tmp) / "lab"))
            t0 = time.monotonic()
            fleet.start()
            ready = time.monotonic() - t0
            try:
                namespaces = {m.mount_ns for m in fleet.machines}
                mem = pss_mb(namespaces)
                ok = check_sample(fleet, 20)
            finally:
                t1 = time.monotonic()
                fleet.stop()
                stop = time.monotonic() - t1
            return {"count": count, "ready": ready, "pss_mb": mem, "sample_ok": ok, "stop": stop}
    finally:
        lease.release()


def write_results(rows: list[dict], repeat: int) -> None:
    lines = [BEGIN, "## Lab machines: start-up (`uv run python bench/lab_machines.py`)", "",
             (f"Cold start (fresh state dir: host keys, overlay dirs, facts) to every sshd listening; "
              f"{os.cpu_count()} cores; median of {repeat}. PSS: all processes of the fleet "
              "(sshd listener, namespace keeper, its `tail --pid`). Sample: paramiko `hostname` "
              "on 20 machines, host key checked."), "",
             "| machines | ready (s) | per machine (ms) | memory PSS (MB) | sample ok | stop (s) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['count']} | {r['ready']:.1f} | {1000 * r['ready'] / r['count']:.1f} | "
                     f"{r['pss_mb']:.0f} | {r['sample_ok']}/20 | {r['stop']:.1f} |")
    lines += ["", f"Measured {time.strftime('%Y-%m-%d')}.", END]
    section = "\n".join(lines)
    write_section(BEGIN, END, section)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for count in [int(s) for s in args.sizes.split(",")]:
        runs = [run_once(count) for _ in range(args.repeat)]
        for r in runs:
            print(f"{count} machines: ready in {r['ready']:.2f} s, {r['pss_mb']:.0f} MB PSS, "
                  f"sample {r['sample_ok']}/20, stop {r['stop']:.2f} s", flush=True)
        rows.append({k: statistics.median(r[k] for r in runs) if k != "count" else count
                     for k in runs[0]})
    write_results(rows, args.repeat)


if __name__ == "__main__":
    main()
