"""Each fault does what it says, seen from a paramiko client, and clearing it undoes it."""
from __future__ import annotations

import time

import httpx
import paramiko
import pytest

from fixtures.lab import port_refuses, start_lab


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    running, finalize = start_lab(tmp_path_factory.mktemp("faults"), machines=3, cmdb_size=10)
    try:
        yield running
    finally:
        finalize()


def put(lab, name, kind, **params):
    r = httpx.put(f"{lab.control_url}/machines/{name}/faults/{kind}", json=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["faults"]


def clear(lab, name, kind):
    r = httpx.delete(f"{lab.control_url}/machines/{name}/faults/{kind}", timeout=30)
    assert r.status_code == 200, r.text


def test_unreachable_refuses_connections(faulty):
    m = faulty.info("m001")
    put(faulty, "m001", "unreachable")
    try:
        assert port_refuses(m["address"], m["port"])
        with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError):
            faulty.ssh("m001", timeout=3)
        assert faulty.run("m002", "hostname")[1].strip() == "m002"  # the others are fine
    finally:
        clear(faulty, "m001", "unreachable")
    assert faulty.run("m001", "hostname")[1].strip() == "m001"


def test_slow_handshake_takes_that_long(faulty):
    put(faulty, "m001", "slow_handshake", seconds=1.5)
    try:
        t0 = time.monotonic()
        faulty.ssh("m001", timeout=10).close()
        assert time.monotonic() - t0 >= 1.5
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            faulty.ssh("m001", timeout=0.5)
    finally:
        clear(faulty, "m001", "slow_handshake")
    t0 = time.monotonic()
    faulty.ssh("m001").close()
    assert time.monotonic() - t0 < 1.5


def test_hung_command_hangs_and_is_still_recorded(faulty):
    faulty.reset("m002")
    put(faulty, "m002", "hang")
    try:
        client = faulty.ssh("m002")
        _, out, _ = client.exec_command("echo hello", timeout=1)
        with pytest.raises(TimeoutError):
            out.read()
        client.close()
        assert [r.command for r in faulty.machine("m002").command_log()] == ["echo hello"]
    finally:
        clear(faulty, "m002", "hang")
    assert faulty.run("m002", "echo hello")[1] == "hello\n"
    m = faulty.machine("m002")
    from autorke_lab.machines.namespaces import processes_in

    assert processes_in(m.mount_ns, b"autorke-lab-hang") == []


def test_command_fails_with_the_given_exit_code_and_message(faulty):
    put(faulty, "m002", "command_fails", exit_code=42, message="boom: simulated")
    try:
        code, out, err = faulty.run("m002", "echo should-not-run")
        assert (code, out, err) == (42, "", "boom: simulated\n")
    finally:
        clear(faulty, "m002", "command_fails")
    assert faulty.run("m002", "true")[0] == 0


def test_disk_full_makes_writes_fail(faulty):
    assert faulty.run("m003", "echo ok > /var/lib/before && cat /var/lib/before")[1] == "ok\n"
    put(faulty, "m003", "disk_full")
    try:
        code, _, err = faulty.run("m003", "head -c 100000 /dev/zero > /var/lib/big")
        assert code != 0 and "No space left on device" in err
        assert faulty.run("m003", "df --output=pcent /var | tail -1")[1].strip() == "100%"
        assert faulty.run("m003", "cat /var/lib/before")[1] == "ok\n"  # data still readable
        assert faulty.run("m001", "head -c 100000 /dev/zero > /var/lib/big")[0] == 0  # others fine
    finally:
        clear(faulty, "m003", "disk_full")
    assert faulty.run("m003", "head -c 100000 /dev/zero > /var/lib/big && rm /var/lib/big")[0] == 0


def test_rotated_host_key_no_longer_matches_the_cmdb(faulty):
    record = httpx.get(f"{faulty.cmdb_url}/api/v1/hosts/m003").json()
    put(faulty, "m003", "host_key_rotated")
    try:
        with pytest.raises(paramiko.BadHostKeyException):
            faulty.ssh("m003", host_key=record["ssh"]["host_key"])
        status = httpx.get(f"{faulty.control_url}/machines/m003").json()
        assert status["serving_host_key"] != record["ssh"]["host_key"]
        after = httpx.get(f"{faulty.cmdb_url}/api/v1/hosts/m003").json()
        assert after["ssh"]["host_key"] == record["ssh"]["host_key"]  # the CMDB kept the old one
    finally:
        clear(faulty, "m003", "host_key_rotated")
    faulty.ssh("m003", host_key=record["ssh"]["host_key"]).close()


def test_clock_skew_shifts_the_machines_clock(faulty):
    put(faulty, "m001", "clock_skew", seconds=-7200)
    try:
        remote = int(faulty.run("m001", "date +%s")[1])
        assert abs(remote - (time.time() - 7200)) < 60
    finally:
        clear(faulty, "m001", "clock_skew")
    assert abs(int(faulty.run("m001", "date +%s")[1]) - time.time()) < 60


def test_unknown_fault_is_refused_with_a_message(faulty):
    r = httpx.put(f"{faulty.control_url}/machines/m001/faults/melted", json={})
    assert r.status_code == 400 and "unknown fault" in r.json()["detail"]
