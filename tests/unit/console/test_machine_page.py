"""The machine page as people read it (console review, section 3): nested values as tables
and terms (disks, NICs, GPUs), never Python's repr; owner, environment, CMDB source and
conflicts shown; the open change that holds the machine named as its lock."""
from __future__ import annotations

from types import SimpleNamespace

from autorke_console.domain.i18n import label
from autorke_console.entrypoints.pages.rendering import environment

MACHINE = {
    "id": "cmdb-000020", "hostname": "m020", "ip": "10.0.0.20", "state": "member", "cluster": "rke2-lab",
    "roles": ["worker"], "labels": {"rack": "r2"}, "taints": [], "source": "cmdb", "environment": "prod",
    "owner": {"team": "ml-infra", "contact": "ml@example.com"}, "cmdb_labels": {}, "conflicts": [],
    "hardware": {"vendor": "Inspur", "cpu": {"model": "Xeon Gold 6348", "cores": 56}, "memory_gb": 512,
                 "gpu": {"model": "NVIDIA H800", "count": 8, "memory_mb": 81559},
                 "disks": [{"device": "sda", "size_gb": 960, "type": "ssd"},
                           {"device": "nvme0n1", "size_gb": 3840, "type": "nvme"}]},
    "software": {"os": "Ubuntu", "os_version": "22.04", "kernel": None},
    "kubernetes": {"node": {"ready": True, "problems": []}},
    "network": {"rack": "r2", "ssh": {"address": "10.0.0.20", "bastion": None}},
}


def _render(changes: list[dict]) -> str:
    return environment().get_template("machine.html").render(
        request=SimpleNamespace(url=SimpleNamespace(path="/ui/machines/m020")), user={"roles": ["viewer"]},
        lang="en", t=lambda key: label(key, "en"), can=lambda role: False, csrf="", path="/ui/machines/m020",
        url_with=lambda **_: "", result=SimpleNamespace(ok=True, missing=False), m=MACHINE,
        history=SimpleNamespace(ok=True, missing=False), changes=changes, actions={}, offered=[],
        machine_id="m020")


def test_nested_values_read_as_tables_and_terms_with_owner_source_and_the_lock():
    page = _render([{"id": "chg-1", "type": "node.update", "status": "awaiting_approval", "open": True,
                     "requested_by": "https://idp#alice"},
                    {"id": "chg-0", "type": "node.add", "status": "succeeded", "open": False,
                     "requested_by": "https://idp#alice"}])
    assert "device=sda" not in page and "bastion=None" not in page and "ready=True" not in page
    disks = page.split('data-test="nested-table"')[1]
    assert "<th>device</th>" in disks and "<td>nvme0n1</td>" in disks and "<td>3840</td>" in disks
    assert "ml-infra" in page and ">cmdb<" in page and ">prod<" in page
    assert 'data-lock="chg-1"' in page and 'data-lock="chg-0"' not in page, "only an open change holds it"
    assert "memory gb" in page, "keys read as words"


def test_a_machine_no_change_holds_says_so():
    assert "No open change holds this machine." in _render([])
