"""SSH to the cluster's nodes the way the rke stand-in needs it: paramiko, host keys
verified against a known_hosts file (RejectPolicy: an unknown or changed key is an error),
key-based auth only, optionally through one bastion transport shared by all nodes.

Commands are argv lists joined with :func:`shlex.join`; file contents travel on stdin,
never inside a command line, so nothing secret shows in a machine's command log.
"""
from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko

from .config import SSHEndpoint

TIMEOUT_S = 15


class SSHFailure(Exception):
    """A node could not be reached, or a command on it failed."""


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str


def _client(known_hosts: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def _pkey(path: Path | None) -> paramiko.PKey:
    if path is None:
        raise SSHFailure("no ssh_key_path for the node")
    return paramiko.PKey.from_path(str(path))


class Bastion:
    """One authenticated transport to the bastion; nodes are reached via direct-tcpip."""

    def __init__(self, endpoint: SSHEndpoint, known_hosts: Path) -> None:
        self._client = _client(known_hosts)
        try:
            self._client.connect(
                endpoint.address, port=endpoint.port, username=endpoint.user,
                pkey=_pkey(endpoint.key_path), allow_agent=False, look_for_keys=False,
                timeout=TIMEOUT_S, banner_timeout=TIMEOUT_S, auth_timeout=TIMEOUT_S,
            )
        except (paramiko.SSHException, OSError) as exc:
            raise SSHFailure(f"Failed to dial bastion host [{endpoint.address}]: {exc}") from None
        self._lock = threading.Lock()

    def channel(self, address: str, port: int) -> paramiko.Channel:
        with self._lock:
            transport = self._client.get_transport()
            return transport.open_channel(
                "direct-tcpip", (address, port), ("127.0.0.1", 0), timeout=TIMEOUT_S
            )

    def close(self) -> None:
        self._client.close()


class NodeSession:
    """An SSH connection to one node."""

    def __init__(self, endpoint: SSHEndpoint, known_hosts: Path, bastion: Bastion | None) -> None:
        self.address = endpoint.address
        self._client = _client(known_hosts)
        try:
            sock = bastion.channel(endpoint.address, endpoint.port) if bastion else None
            self._client.connect(
                endpoint.address, port=endpoint.port, username=endpoint.user,
                pkey=_pkey(endpoint.key_path), sock=sock, allow_agent=False,
                look_for_keys=False, timeout=TIMEOUT_S, banner_timeout=TIMEOUT_S,
                auth_timeout=TIMEOUT_S,
            )
        except (paramiko.SSHException, OSError) as exc:
            raise SSHFailure(
                f"Failed to set up SSH tunneling for host [{endpoint.address}]: {exc}"
            ) from None

    def run(self, argv: list[str], stdin: bytes | None = None, check: bool = True) -> Result:
        command = shlex.join(argv)
        try:
            chan_in, out, err = self._client.exec_command(command, timeout=60)
            if stdin is not None:
                chan_in.write(stdin)
            chan_in.channel.shutdown_write()
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
            rc = out.channel.recv_exit_status()
        except (paramiko.SSHException, OSError) as exc:
            raise SSHFailure(f"[{self.address}] {argv[0]}: {exc}") from None
        if check and rc != 0:
            raise SSHFailure(f"[{self.address}] {argv[0]} exited {rc}: {stderr.strip()[-400:]}")
        return Result(rc, stdout, stderr)

    def sh(self, script: str, check: bool = True) -> Result:
        """Run a fixed shell snippet (never built from input; values go as "$1"...)."""
        return self.run(["sh", "-c", script], check=check)

    def write_file(self, path: str, data: bytes, mode: str = "0644") -> None:
        parent = path.rsplit("/", 1)[0] or "/"
        self.run(["mkdir", "-p", parent])
        self.run(["sh", "-c", 'umask 077; cat > "$1" && chmod "$2" "$1"', "sh", path, mode],
                 stdin=data)

    def close(self) -> None:
        self._client.close()
