"""Each lab machine is its own machine over real SSH: own hostname, own files, own host
key (the one the CMDB publishes), simulated facts that agree with the CMDB."""
from __future__ import annotations

import json
import shlex

import httpx
import paramiko
import pytest


def test_every_machine_sees_its_own_hostname(lab):
    for m in lab.machines:
        code, out, _ = lab.run(m["name"], "hostname; cat /etc/hostname")
        assert code == 0
        assert out.split() == [m["name"], m["name"]]


def test_a_file_written_on_one_machine_is_absent_on_the_others(lab):
    names = [m["name"] for m in lab.machines]
    try:
        for path in ("/etc/kubernetes/marker", "/var/lib/etcd/marker", "/opt/marker", "/root/marker"):
            code, _, err = lab.run(names[0], f"mkdir -p $(dirname {path}) && echo {names[0]} > {path}")
            assert code == 0, err
            assert lab.run(names[0], f"cat {path}")[1].strip() == names[0]
            for other in names[1:]:
                assert lab.run(other, f"test -e {path}")[0] == 1, f"{path} leaked to {other}"
    finally:
        lab.run(names[0], "rm -rf /etc/kubernetes /var/lib/etcd /opt/marker /root/marker")
        for n in names:
            lab.machine(n).clear_command_log()


def test_host_key_matches_what_the_cmdb_publishes(lab):
    for m in lab.machines:
        record = httpx.get(f"{lab.cmdb_url}/api/v1/hosts/{m['name']}").json()
        assert record["ssh"]["host_key"] == m["host_key"]
        assert (record["ssh"]["address"], record["ssh"]["port"]) == (m["address"], m["port"])
        client = lab.ssh(m["name"], host_key=record["ssh"]["host_key"])  # RejectPolicy otherwise
        served = client.get_transport().get_remote_server_key()
        assert f"{served.get_name()} {served.get_base64()}" == record["ssh"]["host_key"]
        client.close()


def test_facts_on_the_machine_agree_with_the_cmdb(lab):
    name = lab.machines[0]["name"]
    record = httpx.get(f"{lab.cmdb_url}/api/v1/hosts/{name}").json()
    _, out, _ = lab.run(name, "nproc; uname -r; grep MemTotal /proc/meminfo; . /etc/os-release; "
                                 "echo $ID $VERSION_ID; nvidia-smi -L | wc -l; lsblk -J")
    lines = out.splitlines()
    assert int(lines[0]) == record["hardware"]["cpu"]["cores"]
    assert lines[1] == record["os"]["kernel"]
    assert int(lines[2].split()[1]) == record["hardware"]["memory_gb"] * 1024 * 1024
    assert lines[3] == f"{record['os']['id']} {record['os']['version']}"
    gpus = record["hardware"]["gpu"]["count"]
    assert int(lines[4]) == (gpus or 1)  # without GPUs nvidia-smi prints one error line
    disks = json.loads("\n".join(lines[5:]))["blockdevices"]
    assert [d["name"] for d in disks] == [d["device"] for d in record["hardware"]["disks"]]
    lab.reset(name)


def test_systemctl_runs_a_unit_as_a_real_process_the_lab_tracks(lab):
    name = lab.machines[1]["name"]
    unit = "[Unit]\nDescription=lab test\n[Service]\nExecStart=/bin/sleep 1000\n"
    try:
        code, out, err = lab.run(name, f"printf %s {shlex.quote(unit)} > /etc/systemd/system/labtest.service"
                                       " && systemctl enable --now labtest && systemctl is-active labtest")
        assert (code, out.strip()) == (0, "active"), err
        units = lab.machine(name).units()
        assert [(u["name"], u["active"]) for u in units] == [("labtest.service", True)]
        assert lab.run(lab.machines[2]["name"], "systemctl is-active labtest")[0] == 3
        assert lab.run(name, "systemctl stop labtest; systemctl is-active labtest")[0] == 3
        assert not any(u["active"] for u in lab.machine(name).units())
    finally:
        lab.run(name, "systemctl disable labtest; rm -f /etc/systemd/system/labtest.service")
        lab.reset(name)


def test_docker_containers_are_state_of_one_machine(lab):
    a, b = lab.machines[2]["name"], lab.machines[3]["name"]
    try:
        code, _, err = lab.run(a, "docker run -d --name kubelet rancher/hyperkube:v1.20 kubelet")
        assert code == 0, err
        assert lab.run(a, "docker ps --format '{{.Names}}'")[1].split() == ["kubelet"]
        assert lab.run(a, "ls /var/lib/docker/containers | wc -l")[1].strip() == "1"
        assert lab.run(b, "docker ps -a -q")[1].strip() == ""
        inspect = json.loads(lab.run(a, "docker inspect kubelet")[1])
        assert inspect[0]["State"]["Running"] is True
        assert lab.run(a, "docker rm -f kubelet && docker ps -a -q")[1].strip() == "kubelet"
    finally:
        lab.run(a, "docker rm -f kubelet")
        lab.reset(a)


def test_machines_behind_the_bastion_are_reachable_only_through_it(lab):
    bastion = lab.status["bastion"]
    assert bastion["inner"] == ["inner001", "inner002"]
    for name in bastion["inner"]:
        info = lab.info(name)
        assert info["bastion"] == bastion["name"]
        code, out, _ = lab.run(name, "hostname")
        assert (code, out.strip()) == (0, name)
        record = httpx.get(f"{lab.cmdb_url}/api/v1/hosts/{name}").json()
        assert record["ssh"]["bastion"]["address"] == bastion["address"]
    # Directly from the host, no SSH server answers at an inner address (this sandbox's
    # gateway may accept any TCP connection, so the proof is that no SSH handshake happens).
    inner = lab.info(bastion["inner"][0])
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises((paramiko.SSHException, OSError)):
        client.connect(inner["address"], inner["port"], username=lab.ssh_user,
                       key_filename=str(lab.private_key), look_for_keys=False, allow_agent=False,
                       timeout=2, banner_timeout=2, auth_timeout=2)
    client.close()
    code, out, _ = lab.run(bastion["name"], "hostname")
    assert out.strip() == bastion["name"]
