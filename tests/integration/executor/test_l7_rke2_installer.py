"""L7: the RKE2 installer a node runs is pinned (a release, its installer at that tag) and
checked against its SHA-256 before any of it runs. On a real lab machine, with the
installer as a local artefact there (the air-gapped form of the same check): a wrong
checksum fails the join before the installer runs; the right one runs it with the pinned
version; no checksum configured refuses the join before a connection."""
from __future__ import annotations

import hashlib
import json
import shlex

import pytest

from autorke_executor.bootstrap import ExecutorSettings, rke2_install_command
from autorke_executor.domain.rke2_installer import DEFAULT_VERSION, InstallerNotPinned, Rke2Installer

from .conftest import commands_of, new_job, send, target, wait_finished

INSTALLER_PATH = "/opt/rke2-mirror/install.sh"
#: Stands in for install.sh: records that it ran, and with which version and type.
INSTALLER = """#!/bin/sh
echo "ran INSTALL_RKE2_VERSION=$INSTALL_RKE2_VERSION INSTALL_RKE2_TYPE=$INSTALL_RKE2_TYPE" > /opt/rke2-mirror/ran
exit 1
"""
SHA = hashlib.sha256(INSTALLER.encode()).hexdigest()


def test_l7_the_default_command_carries_the_pin_and_the_checksum_check():
    command = rke2_install_command(ExecutorSettings(rke2_installer_sha256=SHA))
    assert f"https://raw.githubusercontent.com/rancher/rke2/{DEFAULT_VERSION}/install.sh" in command
    assert "get.rke2.io" not in command and "| sh -" not in command
    assert f"printf '%s  %s\\n' {SHA} \"$f\" | sha256sum -c --status -" in command
    assert f"INSTALL_RKE2_VERSION={shlex.quote(DEFAULT_VERSION)}" in command and "--proto =https" in command
    # the check comes before the run, and a mismatch exits before it
    assert command.index("sha256sum") < command.index('sh "$f"') and "exit 90" in command


def test_l7_without_a_checksum_there_is_no_install_command():
    assert rke2_install_command(ExecutorSettings()) == ""
    with pytest.raises(InstallerNotPinned):
        Rke2Installer().command()


@pytest.mark.parametrize("bad", [{"rke2_version": "latest"}, {"rke2_installer_sha256": "abc"},
                                 {"rke2_installer_url": "http://get.rke2.io", "rke2_installer_sha256": SHA},
                                 {"rke2_version": "v1.31.5+rke2r1\n", "rke2_installer_sha256": SHA}])
def test_l7_a_malformed_pin_fails_the_start(bad):
    with pytest.raises(ValueError):
        rke2_install_command(ExecutorSettings(**bad))


def _join(lab, events, executor_factory, box, **settings) -> dict:
    executor_factory(lab, **settings)
    job = new_job(kind="rke2", action="join", targets=[target(lab, "m001")], fence=["m001"],
                  params={"server": "https://127.0.0.1:9345"}, secrets={"token": box.seal("K10::server:x")})
    send(events, job)
    return wait_finished(events, job.job_id, timeout=60)[0]["data"]["targets"][0]


def _with_local_installer(lab):
    rc, _, err = lab.run("m001", f"mkdir -p /opt/rke2-mirror && cat > {INSTALLER_PATH} <<'EOF'\n{INSTALLER}EOF\n")
    assert rc == 0, err
    lab.machine("m001").clear_command_log()


def test_l7_a_mismatching_checksum_fails_before_the_installer_runs(lab_factory, events, executor_factory, box):
    lab = lab_factory(machines=1)
    _with_local_installer(lab)
    outcome = _join(lab, events, executor_factory, box, rke2_installer_url=INSTALLER_PATH,
                    rke2_installer_sha256=hashlib.sha256(b"another installer").hexdigest())
    assert outcome["status"] == "failed" and outcome["exit_code"] == 90, outcome
    assert "not the pinned one" in json.dumps(outcome)
    _, out, _ = lab.run("m001", "test -e /opt/rke2-mirror/ran && echo ran || echo never")
    assert out.strip() == "never", "the installer must not have run"


def test_l7_the_matching_installer_runs_with_the_pinned_version(lab_factory, events, executor_factory, box):
    lab = lab_factory(machines=1)
    _with_local_installer(lab)
    _join(lab, events, executor_factory, box, rke2_installer_url=INSTALLER_PATH, rke2_installer_sha256=SHA)
    _, out, _ = lab.run("m001", "cat /opt/rke2-mirror/ran")
    assert out.strip() == f"ran INSTALL_RKE2_VERSION={DEFAULT_VERSION} INSTALL_RKE2_TYPE=agent"


def test_l7_no_checksum_refuses_the_join_before_a_connection(lab_factory, events, executor_factory, box):
    lab = lab_factory(machines=1)
    lab.machine("m001").clear_command_log()
    outcome = _join(lab, events, executor_factory, box)
    assert outcome["status"] == "refused" and outcome["error_class"] == "refused_installer", outcome
    assert commands_of(lab, "m001") == []
