"""What a machine is made of on disk, prepared before it starts.

::

    <lab dir>/id_ed25519{,.pub}   the lab's login key pair (authorized for root everywhere)
    <lab dir>/authorized_keys     the one AuthorizedKeysFile of every machine
    <lab dir>/sshd_config         shared sshd settings (each machine adds its own -o options)
    <lab dir>/standins/           lower layer of every machine's /usr/local (bin/, libexec/;
                                  bin/<tool> is the generated fast-tool: see answers.py)
    <lab dir>/machines/<name>/
        hostkey{,.pub}            the machine's host key (the CMDB publishes this one)
        ov/{etc,var,opt,usrlocal}.{u,w}   overlay upper/work dirs: the machine's own changes
        home/                     its /root (fresh: the host's .bashrc costs 150 ms a command)
        proc/{cpuinfo,meminfo}    bind-mounted over /proc inside the machine
        faults/                   one file per active fault, read by the session wrapper
        commands.log              every command received over SSH (see commandlog.py)
        sshd.log, sshd.pid, init.log

The simulated facts are written into the overlay upper dirs (``/etc/os-release``,
``/etc/hostname``, ``/etc/machine-id``, ``/var/lib/autorke-lab/facts.json``, and the
stand-ins' pre-rendered answers in ``/var/lib/autorke-lab/answers/``) so they appear at
their real paths inside the machine only.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from . import answers
from .facts import MachineFacts
from .keys import ensure_key_pair

STANDIN_TOOLS = (*answers.FACTS_TOOLS, "docker")  # /usr/local/bin/<tool> -> fast-tool
FAST_TOOL = "libexec/autorke-lab/fast-tool"
SESSION = "/usr/local/libexec/autorke-lab/session"
SLOW_AUTH = "/usr/local/libexec/autorke-lab/slow-auth"
INIT = "libexec/autorke-lab/machine-init"
_FORBIDDEN_PARENTS = ("/etc", "/var", "/opt", "/root", "/usr", "/proc")

SSHD_CONFIG = """\
# sshd settings shared by every lab machine; ListenAddress, HostKey, ForceCommand per machine.
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AuthorizedKeysFile {authorized_keys}
StrictModes no
UseDNS no
PidFile none
MaxStartups 2000:30:4000
MaxSessions 256
LogLevel ERROR
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


def check_lab_dir(lab_dir: Path) -> None:
    """Machines see the host's /etc, /var, /opt, /root, /usr through overlays: the lab's own
    files must live elsewhere, and be named without spaces (they go into sshd options)."""
    path = str(lab_dir.resolve())
    if any(path == p or path.startswith(p + "/") for p in _FORBIDDEN_PARENTS):
        raise ValueError(f"lab state dir {path} must not be under {', '.join(_FORBIDDEN_PARENTS)}")
    if any(c.isspace() for c in path):
        raise ValueError(f"lab state dir {path!r} must not contain whitespace")


def prepare_lab_dir(lab_dir: Path) -> dict:
    """Shared files of a lab; returns the SSH login details."""
    check_lab_dir(lab_dir)
    lab_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(lab_dir, 0o755)
    (lab_dir / "machines").mkdir(exist_ok=True)
    key = lab_dir / "id_ed25519"
    public = ensure_key_pair(key, "autorke-lab")
    (lab_dir / "authorized_keys").write_text(public + " autorke-lab\n")
    (lab_dir / "sshd_config").write_text(
        SSHD_CONFIG.format(authorized_keys=lab_dir.resolve() / "authorized_keys"))
    _install_standins(lab_dir / "standins")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    return {"user": "root", "private_key": str(key.resolve()), "public_key": public}


def _install_standins(target: Path) -> None:
    source = resources.files("autorke_lab.machines") / "standins"
    with resources.as_file(source) as src:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*"):
        if path.is_file():
            path.chmod(0o755)
    (target / FAST_TOOL).write_text(answers.dispatcher())
    (target / FAST_TOOL).chmod(0o755)
    for tool in STANDIN_TOOLS:
        os.symlink(f"../{FAST_TOOL}", target / "bin" / tool)
    os.chmod(target, 0o755)


def prepare_machine(lab_dir: Path, name: str, address: str, facts: MachineFacts) -> Path:
    """Create (or refresh) a machine's state dir; keeps its host key and its own changes."""
    m = lab_dir / "machines" / name
    for d in ("etc", "var", "opt", "usrlocal"):
        (m / "ov" / f"{d}.u").mkdir(parents=True, exist_ok=True)
        (m / "ov" / f"{d}.w").mkdir(exist_ok=True)
    for d in ("home", "proc", "faults"):
        (m / d).mkdir(exist_ok=True)
    os.chmod(m / "home", 0o700)
    ensure_key_pair(m / "hostkey", f"root@{name}")
    etc = m / "ov" / "etc.u"
    (etc / "hostname").write_text(name + "\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n{address}\t{name}\n")
    (etc / "machine-id").write_text(facts.machine_id + "\n")
    (etc / "os-release").write_text(
        f'PRETTY_NAME="{facts.os_pretty}"\nNAME="{facts.os_pretty.split(" ")[0]}"\n'
        f'ID={facts.os_id}\nVERSION_ID="{facts.os_version}"\n')
    lib = m / "ov" / "var.u" / "lib" / "autorke-lab"
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "facts.json").write_text(json.dumps(asdict(facts)))
    answers.write_answers(lib / "answers", facts)
    (m / "proc" / "cpuinfo").write_text("".join(
        f"processor\t: {i}\nvendor_id\t: {'AuthenticAMD' if 'AMD' in facts.cpu_model else 'GenuineIntel'}\n"
        f"model name\t: {facts.cpu_model}\nphysical id\t: {i * facts.cpu_sockets // facts.cpu_cores}\n"
        f"cpu cores\t: {facts.cpu_cores // facts.cpu_sockets // 2}\n\n"
        for i in range(facts.cpu_cores)))
    (m / "proc" / "osrelease").write_text(facts.kernel + "\n")  # what uname -r says
    kb = facts.memory_gb * 1024 * 1024
    (m / "proc" / "meminfo").write_text(
        f"MemTotal:       {kb} kB\nMemFree:        {kb * 9 // 10} kB\n"
        f"MemAvailable:   {kb * 19 // 20} kB\nBuffers:        0 kB\nCached:         {kb // 20} kB\n"
        f"SwapTotal:      0 kB\nSwapFree:       0 kB\n")
    return m


def sshd_argv(lab_dir: Path, machine_dir: Path, address: str, port: int, *,
              host_key: Path, namespaced: bool, extra: list[str] = ()) -> list[str]:
    session = SESSION if namespaced else str(lab_dir.resolve() / "standins" / SESSION[len("/usr/local/"):])
    return ["/usr/sbin/sshd", "-D", "-f", str(lab_dir.resolve() / "sshd_config"),
            "-o", f"ListenAddress={address}:{port}",
            "-o", f"HostKey={host_key.resolve()}",
            # sourced by the login shell sshd starts for it (``bash -c``): no shell of its own
            "-o", f"ForceCommand=. {shlex.quote(session)} {shlex.quote(str(machine_dir.resolve()))}",
            "-E", str(machine_dir.resolve() / "sshd.log"), *extra]


def init_argv(lab_dir: Path, machine_dir: Path, name: str, owner_pid: int,
              sshd: list[str]) -> list[str]:
    """argv that starts a machine in new UTS and mount namespaces (see machine-init)."""
    return ["unshare", "--uts", "--mount", "--propagation", "private",
            str(lab_dir.resolve() / "standins" / INIT), name, str(machine_dir.resolve()),
            str(lab_dir.resolve()), str(owner_pid), *sshd]
