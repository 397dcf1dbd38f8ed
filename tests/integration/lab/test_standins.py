"""The stand-in tools answer common invocations from answers the lab rendered when it laid
the machine out (one ``sh`` that sources the answer, no Python start-up), and those answers are
exactly what the Python stand-ins print: checked over real SSH on lab machines with and
without GPUs, for every pre-rendered invocation (facts.sh's among them)."""
from __future__ import annotations

import shlex

from autorke_lab.machines.answers import ANSWERS, DOCKER, FACTS_TOOL

FACTS = "/var/lib/autorke-lab/facts.json"


def _batch(commands: list[str]) -> str:
    """One shell line running each command and marking its output and exit code."""
    return "; ".join(f"echo '>>> {i}'; {c}; echo \"<<< $?\"" for i, c in enumerate(commands))


def test_fast_path_and_python_path_give_the_same_output(lab):
    invocations = [(tool, args) for tool, all_args in ANSWERS.items() for args in all_args]
    fast = [shlex.join([tool, *args]) for tool, args in invocations]
    slow = [shlex.join([DOCKER, *args] if tool == "docker" else [FACTS_TOOL, "--as", tool, *args])
            for tool, args in invocations]
    gpus = set()
    for m in lab.machines[:6]:
        name = m["name"]
        code, py_out, err = lab.run(name, _batch(slow))
        assert code == 0, err
        # The fast path must not need Python at all: with facts.json out of the way the
        # Python stand-ins could not answer, the rendered answers still do.
        code, sh_out, err = lab.run(
            name, f"mv {FACTS} {FACTS}.away && {{ {_batch(fast)}; }}; mv {FACTS}.away {FACTS}")
        assert code == 0, err
        assert sh_out == py_out, name
        assert f"{m['name']}" in sh_out  # uname -n / -a carry the machine's own hostname
        gpus.add("NVIDIA-SMI has failed" in sh_out)
    assert gpus == {True, False}, "expected machines with and without GPUs among the first six"


def test_other_invocations_fall_back_to_python(lab):
    name = lab.machines[0]["name"]
    code, out, err = lab.run(name, "uname -rn; lsblk -d; docker info | head -n1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{lab.run(name, 'uname -r')[1].strip()} {name}"  # in the order asked
    assert lines[1].startswith("NAME ") and lines[-1].startswith("Containers: ")


def test_kernel_release_file_agrees_with_uname(lab):
    """facts.sh reads /proc/sys/kernel/osrelease instead of starting ``uname -r``: each
    machine's says the machine's simulated kernel, as its ``uname -r`` does."""
    kernels = set()
    for m in lab.machines[:6]:
        code, out, err = lab.run(m["name"], "cat /proc/sys/kernel/osrelease; uname -r")
        assert code == 0, err
        from_proc, from_uname = out.splitlines()
        assert from_proc == from_uname, m["name"]
        kernels.add(from_proc)
    assert len(kernels) > 1, "machines simulate different kernels; all read the same"
