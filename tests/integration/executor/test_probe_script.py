"""probe.sh on this host, with real processes: a component is found by its program name
or as a word of its command line, by pgrep or, on a machine without procps, by reading
/proc; both ways give the same evidence, and neither is fooled by a name after a flag."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from autorke_executor.adapters.scripts import ScriptLibrary

# Ahead of probe.sh: a machine without procps (pgrep called anyway would leave its mark).
NO_PGREP = (b'have() { [ "$1" != pgrep ] && command -v "$1" >/dev/null 2>&1; }\n'
            b'pgrep() { : > "$PGREP_MARK"; }\n')

@pytest.fixture
def components(tmp_path: Path):
    """A 'kubelet' (by program name), a 'hyperkube kubelet' (by command line) and a
    process that only mentions etcd after a flag; ended by their own PIDs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubelet").symlink_to("/bin/sleep")
    procs = [subprocess.Popen([str(bin_dir / "kubelet"), "300"]),
             subprocess.Popen(["bash", "-c", 'exec -a "/usr/bin/hyperkube kubelet" sleep 301']),
             subprocess.Popen(["bash", "-c", 'exec -a "/usr/bin/backup --target etcd" sleep 302'])]
    try:
        yield {p.pid: p for p in procs}
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _probe(tmp_path: Path, prelude: bytes = b"") -> dict:
    script = ScriptLibrary().get("probe").replace(b"\nK8S_NAMES=", b"\n" + prelude + b"K8S_NAMES=", 1)
    env = {**os.environ, "AUTORKE_SCRIPT": "probe", "PGREP_MARK": str(tmp_path / "pgrep-called")}
    out = subprocess.run(["bash", "-s"], input=script, env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def test_pgrep_and_proc_fallback_find_the_same_components(components, tmp_path):
    kubelet, hyperkube, backup = components
    with_pgrep, without = _probe(tmp_path), _probe(tmp_path, NO_PGREP)
    assert not (tmp_path / "pgrep-called").exists()  # the fallback read /proc itself
    assert with_pgrep["processes"] == without["processes"]
    found = with_pgrep["processes"]
    assert f"kubelet pid {kubelet}" in found
    assert f"kubelet (sleep) pid {hyperkube}" in found
    assert not any(f"pid {backup}" in p for p in found)
