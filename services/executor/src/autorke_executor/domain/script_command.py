"""How a named script becomes the one command line sent to a machine.

The script's text travels on stdin (``bash -s``); its parameters are positional
arguments and environment assignments, each passed through :func:`shlex.quote`, so no
value from a job is ever spliced into shell syntax. Environment names are checked
against a strict pattern because a name cannot be quoted."""
from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from autorke_common.errors import Invalid

ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")  # fullmatch: "FOO\n" is no name


class UnsafeParameter(Invalid):
    """A parameter that cannot be passed safely (a bad environment variable name): that
    target fails with this reason, nothing sent."""

    def __init__(self, detail: str) -> None:
        super().__init__("unsafe-parameter", detail)


def script_command(name: str, job_id: str, args: Sequence[str] = (),
                   env: Mapping[str, str] | None = None, change_id: str | None = None) -> str:
    """``AUTORKE_JOB_ID=<q> AUTORKE_SCRIPT=<q> [AUTORKE_CHANGE_ID=<q>] [K=<q> ...] bash -s --
    <q args>``. The change id is what a script marks as made by this change (an etcd
    snapshot), so that its compensation removes that and nothing else."""
    assignments = [f"AUTORKE_JOB_ID={shlex.quote(job_id)}", f"AUTORKE_SCRIPT={shlex.quote(name)}"]
    if change_id:
        assignments.append(f"AUTORKE_CHANGE_ID={shlex.quote(change_id)}")
    for key, value in (env or {}).items():
        if not ENV_NAME.fullmatch(key) or key.startswith("AUTORKE_"):
            raise UnsafeParameter(f"environment name {key!r} is not allowed")
        assignments.append(f"{key}={shlex.quote(str(value))}")
    quoted = " ".join(shlex.quote(str(a)) for a in args)
    return " ".join(assignments) + " bash -s --" + (f" {quoted}" if quoted else "")


def argv_command(argv: Sequence[str]) -> str:
    """A fixed argv as one command line, every word quoted."""
    return shlex.join([str(a) for a in argv])
