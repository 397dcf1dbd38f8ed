"""Fan-out of the executor's ``facts`` script to 200 and 1,000 lab machines, side by side
with ansible ad-hoc (shell module, pipelining on, 50 forks) and asyncssh running the same
script with the same key, known host keys and parallelism 50; the executor also with
curve25519 key exchange (what asyncssh and OpenSSH negotiate), to show what its default
of ECDH P-256 is worth. Wall time, client CPU (user+sys of the tool's process tree),
machine CPU (what the lab machines spent serving the run), ratios; medians of ``--repeat``
runs.

    uv sync --all-packages --group bench
    uv run --no-sync python bench/executor_fanout.py --sizes 200,1000 --repeat 3

Each tool runs in its own child process (``--tool``), so its CPU is measured the same way
(``RUSAGE_CHILDREN``). Machine CPU is the growth of every machine's sshd's own and reaped
children's CPU (/proc/PID/stat utime+stime+cutime+cstime): the per-connection sshd, the
session and everything the script starts, all waited for up that chain; plus the machine's
PID 1, which reaps what outlives its sshd. The executor row is the executor's own code path: its SSH adapter,
its per-target work (``SshWork``) and its bounded fan-out, without database and bus.
Writes its section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write_section  # bench/ is on sys.path when a script runs

BEGIN, END = "<!-- executor_fanout:begin -->", "<!-- executor_fanout:end -->"
FORKS = 50
TOOLS = ("executor", "executor-curve25519", "asyncssh", "ansible")


# -- the tools, each run in a child process ------------------------------------------------
def tool_executor(inv: dict, script: bytes, command: str, kex: tuple[str, ...] | None = None) -> int:
    """The executor with its default key exchange (ECDH P-256 first), or ``kex``."""
    from autorke_common.catalogue.executor import ExecutorRun, Target
    from autorke_executor.adapters.scripts import ScriptLibrary
    from autorke_executor.adapters.ssh import DEFAULT_KEX, BastionCache, SshConnector, SshFailure
    from autorke_executor.service_layer.fanout import fan_out
    from autorke_executor.service_layer.live_output import LiveOutput
    from autorke_executor.service_layer.ssh_targets import SshWork

    targets = [Target(host=m["name"], address=m["address"], port=m["port"], host_key=m["host_key"])
               for m in inv["machines"]]
    job = ExecutorRun(job_id="bench", kind="script", action="facts", targets=targets,
                      fence=[t.host for t in targets], concurrency=FORKS, connect_timeout_s=30,
                      command_timeout_s=120)
    connector = SshConnector(Path(inv["key"]), inv["user"], kex or DEFAULT_KEX)
    work = SshWork(job, connector, BastionCache(connector), ScriptLibrary(), SshFailure, str,
                   LiveOutput().sink)
    if not script:  # plain command mode: one connection, one command, per host
        from autorke_executor.domain.model import TargetOutcome

        def plain(t: Target) -> TargetOutcome:
            try:
                s = connector.connect(t, 30)
                try:
                    r = s.run(command, None, 60)
                finally:
                    s.close()
            except SshFailure as exc:
                return TargetOutcome.failed(t.host, exc.error_class, str(exc))
            return TargetOutcome.ok(t.host, 0, r.exit_code, result={"facts": r.stdout.decode()})
        work = plain
    ok = 0
    for batch in fan_out(targets, work, lambda t: t.host, FORKS):
        ok += sum(1 for o in batch if o.status == "succeeded" and o.result.get("facts"))
    return ok


def tool_asyncssh(inv: dict, script: bytes, command: str) -> int:
    import asyncssh

    async def main() -> int:
        gate = asyncio.Semaphore(FORKS)
        key = asyncssh.read_private_key(inv["key"])

        async def one(m: dict) -> bool:
            async with gate, asyncssh.connect(m["address"], m["port"], username=inv["user"],
                                              client_keys=[key], known_hosts=inv["known_hosts"],
                                              agent_path=None) as conn:
                r = await conn.run(command, input=script.decode() if script else None, check=False)
                if not script:
                    return r.exit_status == 0 and r.stdout.strip() == m["name"]
                return r.exit_status == 0 and json.loads(r.stdout.strip().splitlines()[-1])
        results = await asyncio.gather(*(one(m) for m in inv["machines"]), return_exceptions=True)
        return sum(1 for r in results if r and not isinstance(r, BaseException))
    return asyncio.run(main())


def tool_ansible(inv: dict, script: bytes, command: str) -> int:
    work = Path(inv["work"])
    hosts = work / "hosts.ini"
    lines = ["[lab]"] + [f"{m['name']} ansible_host={m['address']} ansible_port={m['port']}"
                         for m in inv["machines"]]
    lines += ["[lab:vars]", f"ansible_user={inv['user']}", f"ansible_ssh_private_key_file={inv['key']}",
              "ansible_python_interpreter=/usr/bin/python3"]
    hosts.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "ANSIBLE_PIPELINING": "True", "ANSIBLE_HOST_KEY_CHECKING": "True",
           "ANSIBLE_FORKS": str(FORKS), "ANSIBLE_SSH_ARGS":
           # No control master: with one task per host it only adds a process (cold runs of
           # 200 took 37.4 s either way), and persisting it let a repeated run reuse warm
           # connections (29 s) and kept its CPU, client and machine, out of the count.
           f"-o UserKnownHostsFile={inv['known_hosts']} -o StrictHostKeyChecking=yes -o ControlMaster=no",
           "ANSIBLE_LOCAL_TEMP": str(work / "tmp"), "ANSIBLE_HOME": str(work / "home")}
    # ansible's argument splitter cannot take the script text itself: it travels base64-encoded
    heredoc = f"echo {base64.b64encode(script).decode()} | base64 -d | {command}" if script else command
    ansible = Path(sys.executable).with_name("ansible")
    out = subprocess.run([str(ansible), "lab", "-i", str(hosts), "-o", "-m", "shell", "-a", heredoc],
                         env=env, capture_output=True, text=True, check=False)
    good = sum(1 for line in out.stdout.splitlines()
               if " | CHANGED | rc=0 |" in line and ('"hostname"' in line or not script))
    if not good:
        print(out.stdout[:1500], out.stderr[:1500], file=sys.stderr)
    return good


def child(tool: str, inventory: Path, mode: str) -> None:
    from autorke_executor.adapters.scripts import ScriptLibrary
    from autorke_executor.domain.script_command import script_command

    inv = json.loads(inventory.read_text())
    script, command = (ScriptLibrary().get("facts"), script_command("facts", "bench")) if mode == "facts" \
        else (b"", "hostname")
    t0 = time.monotonic()
    tools = {"executor": tool_executor, "asyncssh": tool_asyncssh, "ansible": tool_ansible,
             "executor-curve25519": lambda *a: tool_executor(*a, kex=("curve25519-sha256@libssh.org",))}
    ok = tools[tool](inv, script, command)
    print(json.dumps({"ok": ok, "wall": time.monotonic() - t0}))


# -- the driver ------------------------------------------------------------------------------
def machines_cpu(sshd_pids: list[int]) -> float:
    """CPU seconds the machines' sshds and their reaped descendants have used so far, plus
    each machine's PID 1 (its sshd's parent): a session process that outlives its sshd is
    reaped by PID 1, and its CPU is added there instead."""
    total = 0
    for pid in sshd_pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])
            with open(f"/proc/{fields[1]}/stat") as f:
                total += sum(int(v) for v in f.read().rsplit(")", 1)[1].split()[11:15])
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def measure(tool: str, inventory: Path, mode: str, sshd_pids: list[int]) -> dict:
    machines_before = machines_cpu(sshd_pids)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, __file__, "--tool", tool, "--inventory", str(inventory),
                          "--script", mode],
                         capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    machine_cpu = machines_cpu(sshd_pids) - machines_before
    try:
        res = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {"ok": 0, "wall": wall}
    if not res["ok"]:
        print(out.stderr[-3000:], file=sys.stderr)
    return {"wall": res["wall"], "cpu": cpu, "machine_cpu": machine_cpu, "ok": res["ok"]}


def run_size(count: int, repeat: int, tools: list[str], modes: list[str]) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fixtures.lab import start_lab

    with tempfile.TemporaryDirectory(prefix="bench-fanout-", dir="/tmp") as tmp:
        for attempt in (1, 2):  # a 1,000-machine start now and then loses one machine: retry once
            try:
                lab, finalize = start_lab(Path(tmp) / f"lab{attempt}", machines=count)
                break
            except RuntimeError as exc:
                if attempt == 2:
                    raise
                print(f"lab start failed ({exc}); retrying", flush=True)
        try:
            machines = [m for m in lab.machines if m["role"] == "machine"]
            sshd_pids = [m["sshd_pid"] for m in machines]
            known = Path(tmp) / "known_hosts"
            known.write_text("".join(
                (m['address'] if m['port'] == 22 else f"[{m['address']}]:{m['port']}") + f" {m['host_key']}\n"
                for m in machines))
            inv = Path(tmp) / "inventory.json"
            inv.write_text(json.dumps({"machines": machines, "key": str(lab.private_key), "user": lab.ssh_user,
                                       "known_hosts": str(known), "work": tmp}))
            out = {}
            for mode in modes:
                runs: dict[str, list[dict]] = {t: [] for t in tools}
                for i in range(repeat):
                    for tool in tools:
                        r = measure(tool, inv, mode, sshd_pids)
                        runs[tool].append(r)
                        print(f"{count} machines, {mode}, run {i + 1}: {tool:19s} {r['wall']:7.2f} s wall, "
                              f"{r['cpu']:7.2f} s CPU, {r['machine_cpu']:7.2f} s machine CPU, "
                              f"{r['ok']}/{len(machines)} ok", flush=True)
                out[mode] = {t: {k: statistics.median(r[k] for r in rs)
                                 for k in ("wall", "cpu", "machine_cpu", "ok")}
                             for t, rs in runs.items()}
            return out
        finally:
            finalize()


def write_results(rows: dict[tuple[int, str], dict], repeat: int) -> None:
    lines = [BEGIN, "## Executor fan-out: `facts` on N lab machines (`bench/executor_fanout.py`)", "",
             (f"`uv run --no-sync python bench/executor_fanout.py` — same machines, key, known host keys and "
             f"parallelism ({FORKS}) for every tool; the executor's facts script (bash on stdin); key exchange: "
             f"the executor's default (ECDH P-256 first, `AUTORKE_SSH_KEX`), curve25519 for "
             f"`executor-curve25519`, asyncssh's and OpenSSH's defaults (curve25519); client CPU = "
             f"user+sys of the tool's process tree; machine CPU = what the lab machines' sshds and everything "
             f"under them used; medians of {repeat} run(s); 2-core machine shared with the lab's sshds."), "",
             ("| machines | script | tool | wall (s) | client CPU (s) | CPU/host (ms) | machine CPU/host (ms) | ok "
              "| ansible ÷ tool (wall) | tool ÷ asyncssh (wall) |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (count, mode), res in rows.items():
        for tool, r in res.items():
            vs_ansible = res.get("ansible", {}).get("wall")
            vs_async = res.get("asyncssh", {}).get("wall")
            head = (f"| {count} | {mode} | {tool} | {r['wall']:.1f} | {r['cpu']:.1f} | {1000 * r['cpu'] / count:.0f} | "
                    f"{1000 * r['machine_cpu'] / count:.0f} | {int(r['ok'])} |")
            lines.append(f"{head} {vs_ansible / r['wall']:.1f}x | {r['wall'] / vs_async:.2f}x |"
                         if vs_ansible and vs_async else f"{head} | |")
    lines += ["", f"Measured {time.strftime('%Y-%m-%d')}.", END]
    section = "\n".join(lines)
    write_section(BEGIN, END, section)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--scripts", default="facts,hostname", help="facts and/or hostname")
    parser.add_argument("--script", default="facts", help=argparse.SUPPRESS)
    parser.add_argument("--tool", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.tool:
        child(args.tool, args.inventory, args.script)
        return
    rows = {}
    for size in args.sizes.split(","):
        for mode, res in run_size(int(size), args.repeat, args.tools.split(","), args.scripts.split(",")).items():
            rows[(int(size), mode)] = res
        if not args.no_write:  # after each size, so a later failure keeps what was measured
            write_results(rows, args.repeat)


if __name__ == "__main__":
    main()
