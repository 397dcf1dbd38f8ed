"""H5 against real lab machines: a host that accepts the session and then never answers,
or never reads its stdin, costs its own deadline and no more; a host that floods output
costs bounded memory, and what is kept is its head and its tail with the count of what was
dropped; every transport (direct, bastion, behind a bastion) sends keepalives, so a long
silent command survives a middlebox that drops idle connections.

The faults sshd cannot make itself come from a TCP relay in front of the machine
(``netfaults.py``); the lab's own faults (``hang``) and a hostile tool installed on a
private lab machine do the rest. Deadlines are calibrated on a run without the fault."""
from __future__ import annotations

import math
import threading
import time
import tracemalloc
from datetime import datetime

import paramiko
import pytest

from autorke_common.catalogue.executor import SshEndpoint, Target
from autorke_executor.adapters.ssh import BastionCache, SshConnector, SshFailure
from autorke_executor.domain.model import OUTPUT_CAP, STREAM_HEAD, STREAM_TAIL
from autorke_lab.machines.faults import set_fault

from .conftest import commands_of, new_job, send, target, wait_finished
from .netfaults import Relay


@pytest.fixture
def relays():
    """Relays a test starts, closed when it ends (before the executor it feeds stops: a
    connection a fault holds open must not keep the executor's shutdown waiting)."""
    made: list[Relay] = []

    def start(upstream: tuple[str, int], **faults) -> Relay:
        r = Relay(upstream, **faults)
        made.append(r)
        return r

    yield start
    for r in made:
        r.close()


def _via(lab, name: str, relay: Relay) -> dict:
    return {**target(lab, name), "address": relay.address, "port": relay.port}


def _upstream(lab, name: str) -> tuple[str, int]:
    info = lab.info(name)
    return info["address"], info["port"]


def _finished_at(events, job_id: str) -> dict[str, float]:
    """Seconds from the job's start to each target's end, by the executor's event times."""
    started = datetime.fromisoformat(events.of(job_id, "executor.job.started")[0]["time"])
    return {e["data"]["host"]: (datetime.fromisoformat(e["time"]) - started).total_seconds()
            for e in events.of(job_id, "executor.target.finished")}


def test_h5_a_command_that_never_ends_fails_at_its_deadline_alone(lab, events, executor_factory, relays):
    """One of six machines accepts the session and the command, then nothing of it ever
    comes back (not even the answer to ``exec``, where paramiko waits without a timeout).
    It fails ``timeout`` at its deadline; the five others finish as they do alone."""
    executor_factory(lab)
    names = ["m001", "m002", "m003", "m004", "m005", "m006"]
    dark = "m003"
    for n in names:
        lab.reset(n)

    # The yardstick: the same job with the relay in place but forwarding everything.
    plain = relays(_upstream(lab, dark))
    alone = new_job(kind="script", action="facts", fence=names, command_timeout_s=120,
                    targets=[_via(lab, n, plain) if n == dark else target(lab, n) for n in names])
    send(events, alone)
    assert wait_finished(events, alone.job_id, timeout=180)[0]["data"]["status"] == "succeeded"
    alone_s = max(_finished_at(events, alone.job_id).values())

    for n in names:
        lab.machine(n).clear_command_log()
    relay = relays(_upstream(lab, dark), dark_after_exec=True)
    timeout_s = math.ceil(2 * alone_s) + 3
    job = new_job(kind="script", action="facts", fence=names, command_timeout_s=timeout_s,
                  targets=[_via(lab, n, relay) if n == dark else target(lab, n) for n in names])
    send(events, job)
    # A generous multiple of the deadline: before H5 the hung target never ended at all.
    finished = wait_finished(events, job.job_id, timeout=4 * timeout_s + 60)[0]["data"]
    assert relay.went_dark.is_set() and len(commands_of(lab, dark)) == 1, "the machine got the command"
    by_host = {t["host"]: t for t in finished["targets"]}
    assert finished["status"] == "partially_failed"
    assert by_host[dark]["error_class"] == "timeout", by_host[dark]
    assert all(by_host[n]["status"] == "succeeded" for n in names if n != dark)
    at = _finished_at(events, job.job_id)
    assert timeout_s <= at[dark] <= 2 * timeout_s + 10, (at[dark], timeout_s)  # at its deadline, not later
    assert max(at[n] for n in names if n != dark) <= 2 * alone_s + 1, (at, alone_s)
    assert by_host[dark]["duration_s"] >= timeout_s


def test_h5_a_host_that_never_reads_its_stdin_fails_at_its_deadline(lab):
    """A hung machine never reads the script on its stdin: once the SSH window is full,
    ``sendall`` would wait for ever. The command's deadline covers it."""
    name = "m005"
    lab.reset(name)
    connector = SshConnector(lab.private_key, lab.ssh_user)
    endpoint = Target(**target(lab, name))
    payload = b"#" * (8 * 1024 * 1024)  # four times OpenSSH's session window

    start = time.monotonic()  # the yardstick: the same stdin read by a machine that works
    session = connector.connect(endpoint, 10)
    try:
        assert session.run("cat > /dev/null", payload, 120).exit_code == 0
    finally:
        session.close()
    baseline_s = time.monotonic() - start
    timeout_s = math.ceil(2 * baseline_s) + 2

    lab.machine(name).clear_command_log()
    set_fault(lab.machine(name), "hang")
    session = connector.connect(endpoint, 10)
    outcome: dict = {}

    def run() -> None:
        t0 = time.monotonic()
        try:
            session.run("cat > /dev/null", payload, timeout_s)
        except SshFailure as exc:
            outcome["failure"] = exc
        outcome["took_s"] = time.monotonic() - t0

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(4 * timeout_s + 30)
    try:
        assert not worker.is_alive(), f"sendall still blocked {4 * timeout_s + 30} s after a {timeout_s} s deadline"
        assert outcome["failure"].error_class == "timeout", outcome
        assert timeout_s - 0.5 <= outcome["took_s"] <= 2 * timeout_s + 5, (outcome, timeout_s)
        assert len(commands_of(lab, name)) == 1, "the machine got the command, then hung"
    finally:
        session.close()
        worker.join(10)
        lab.reset(name)


FLOOD_BYTES = 50 * 1000 * 1000
HOSTILE_GPU_TOOL = f"""#!/bin/sh
echo FLOOD-HEAD-LINE
yes 'a compromised machine floods its output' | head -c {FLOOD_BYTES}
echo FLOOD-TAIL-LINE
"""


def test_h5_a_host_that_floods_output_keeps_only_head_and_tail(lab_factory, events, executor_factory,
                                                               auth_headers):
    """A compromised machine prints 50 MB while its init runs. The executor holds the
    stream's head and tail only (its memory stays far below the flood), and the target's
    stored output, in its event and through the API, is at most the cap: the start of the
    run, the end of it, and between them how many bytes were dropped."""
    lab = lab_factory(machines=1)
    client = executor_factory(lab)
    name = "m001"
    tool = "/usr/local/bin/nvidia-smi"  # the machine's own file: a private lab, gone with it
    lab.machine(name).exec_in(["sh", "-c", f'rm -f {tool} && printf %s "$1" > {tool} && chmod 755 {tool}',
                               "sh", HOSTILE_GPU_TOOL])
    job = new_job(kind="script", action="init", params={"profile": "gpu"}, targets=[target(lab, name)],
                  fence=[name], command_timeout_s=900)
    tracemalloc.start()
    try:
        send(events, job)
        finished = wait_finished(events, job.job_id, timeout=960)[0]["data"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert finished["status"] == "succeeded", finished
    [done] = events.of(job.job_id, "executor.target.finished")
    output = done["data"]["output"]
    assert len(output) <= OUTPUT_CAP, len(output)
    assert output.startswith("init: kernel settings written") and "FLOOD-HEAD-LINE" in output
    assert output.rstrip().endswith("init: profile gpu done") and "FLOOD-TAIL-LINE" in output
    count = int(output.split("\n[... ")[1].split(" bytes of output dropped ...]")[0])
    assert count >= FLOOD_BYTES - OUTPUT_CAP, count
    stored = client.get(f"/api/v1/jobs/{job.job_id}", headers=auth_headers("viewer")).json()
    assert stored["targets"][0]["output"] == output
    # The whole flood passed through the executor; what it held at once is a small part of it
    # (the two streams' head and tail, paramiko's window, the live log's cap), not the flood.
    assert peak < FLOOD_BYTES / 4, f"peak traced memory {peak} bytes during a {FLOOD_BYTES} byte flood"
    assert peak < 16 * (STREAM_HEAD + STREAM_TAIL) + 8 * 1024 * 1024, peak


QUIET_COMMAND = "sleep 8; echo still-here"  # silent for longer than the middlebox allows


def test_h5_keepalive_is_set_on_every_transport(lab, relays, monkeypatch):
    """A command silent for 8 s through a middlebox that drops connections idle for 4 s:
    the connection lives because the executor's transports send keepalives (1 s here),
    direct and through a bastion; and every transport made (the direct one, the bastion's,
    the one through the bastion) has them on."""
    armed: list[tuple[paramiko.Transport, float]] = []
    real = paramiko.Transport.set_keepalive

    def spy(self, interval):
        armed.append((self, interval))
        return real(self, interval)

    monkeypatch.setattr(paramiko.Transport, "set_keepalive", spy)
    connector = SshConnector(lab.private_key, lab.ssh_user, keepalive_s=1)
    for n in ("m006", "bastion01", "inner001"):
        lab.reset(n)

    direct = relays(_upstream(lab, "m006"), idle_cut_s=4)
    session = connector.connect(Target(**_via(lab, "m006", direct)), 10)
    try:
        res = session.run(QUIET_COMMAND, None, 60)
        assert (res.exit_code, res.stdout.strip()) == (0, b"still-here")
        assert armed == [(session.transport, 1)]
    finally:
        session.close()
    assert direct.cuts == 0

    jump = relays(_upstream(lab, "bastion01"), idle_cut_s=4)
    inner = target(lab, "inner001")
    inner["bastion"] = SshEndpoint(**{**inner["bastion"], "address": jump.address, "port": jump.port})
    bastions = BastionCache(connector)
    try:
        session = connector.connect(Target(**inner), 10, bastions)
        res = session.run(QUIET_COMMAND, None, 60)
        assert (res.exit_code, res.stdout.strip()) == (0, b"still-here")
        assert len(armed) == 3 and {i for _, i in armed} == {1}, "the direct one, the bastion's, the inner one"
        assert session.transport in [t for t, _ in armed[1:]]
    finally:
        bastions.close()
    assert jump.cuts == 0
    assert commands_of(lab, "bastion01") == []
