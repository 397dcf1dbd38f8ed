"""L6: when rke outlives its deadline, its whole process group is killed, not only rke: a
child it started that keeps the output pipe open (as ``ssh`` or ``docker`` children do)
would otherwise hold the run, and the executor's job, long past the deadline. A real
stand-in rke that starts such a child and waits."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from autorke_executor.adapters.rke import RkeWorkspace

#: prints its child's pid, then waits; the child holds stdout open for five minutes
FAKE_RKE = """#!/bin/sh
sleep 300 &
echo "child: $!"
wait
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead for this purpose
        return f.read().split(") ", 1)[1][0] != "Z"


def test_l6_a_timed_out_rke_is_killed_with_everything_it_started(tmp_path: Path):
    rke = tmp_path / "rke"
    rke.write_text(FAKE_RKE)
    rke.chmod(0o755)
    workspace = RkeWorkspace(tmp_path / "data" / "rke")
    lines: list[str] = []
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(
        workspace.run(str(rke), "up", "nodes: []\n", None, 1.0, lines.append)), daemon=True)
    runner.start()
    runner.join(timeout=120)  # far beyond the 1 s deadline; the child alone would take 300 s
    child = int(next(ln for ln in lines if ln.startswith("child: "))[7:])
    try:
        assert outcome, "the run is still held by rke's child"
        [run] = outcome
        assert run.timed_out and run.exit_code is None
        assert not _alive(child), "rke's child outlived the run"
    finally:
        if _alive(child):
            os.kill(child, 9)
