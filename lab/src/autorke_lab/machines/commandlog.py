"""Reading a machine's command log: every command it received over SSH, exactly.

The machine's sshd runs every session through a ForceCommand wrapper
(``/usr/local/libexec/autorke-lab/session``) that appends one record before running the
command: ``EPOCHREALTIME \\t client-address \\t command \\0``. NUL ends a record because a
command may hold newlines and never a NUL. An interactive login is recorded with an empty
command. This is the lab's proof that a change touched only its blast radius.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class CommandRecord:
    time: float  # seconds since the epoch, as the machine's wrapper saw it
    client: str  # the SSH client's address
    command: str  # exactly as sent ("" for an interactive login)

    def to_json(self) -> dict:
        return asdict(self)


def read_command_log(path: Path) -> list[CommandRecord]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    records = []
    for raw in data.split(b"\0"):
        if not raw:
            continue
        when, client, command = raw.decode("utf-8", "replace").split("\t", 2)
        records.append(CommandRecord(float(when), client, command))
    return records


def commands(path: Path) -> list[str]:
    """Only the command strings, in the order received."""
    return [r.command for r in read_command_log(path)]
