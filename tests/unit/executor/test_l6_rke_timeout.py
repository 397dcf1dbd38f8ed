"""L6: when rke outlives its deadline, its whole process group is killed, not only rke: a
child it started that keeps the output pipe open (as ``ssh`` or ``docker`` children do)
would otherwise hold the run, and the executor's job, long past the deadline. A real
stand-in rke that starts such a child and waits."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from autorke_executor.adapters.rke import RkeWorkspace

#: starts a child that holds stdout open for five minutes, writes its pid down, then waits
FAKE_RKE = """#!/bin/sh
sleep 300 &
echo "$!" > {pid_file}
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
    rke, pid_file = tmp_path / "rke", tmp_path / "child.pid"
    rke.write_text(FAKE_RKE.format(pid_file=pid_file))
    rke.chmod(0o755)
    workspace = RkeWorkspace(tmp_path / "data" / "rke")
    lines: list[str] = []
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(
        workspace.run(str(rke), "up", "nodes: []\n", None, 1.0, lines.append)), daemon=True)
    runner.start()
    runner.join(timeout=120)  # far beyond the 1 s deadline; the child alone would take 300 s
    # on a loaded machine the deadline may pass before the script wrote the pid down: then
    # the kill came before (or just as) the child started, which the group kill covers too
    child = int(pid_file.read_text()) if pid_file.exists() and pid_file.read_text().strip() else None
    try:
        assert outcome, "the run is still held by rke's child"
        [run] = outcome
        assert run.timed_out and run.exit_code is None
        assert child is None or not _alive(child), "rke's child outlived the run"
    finally:
        if child is not None and _alive(child):
            os.kill(child, 9)
