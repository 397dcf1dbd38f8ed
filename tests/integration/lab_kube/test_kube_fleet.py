"""The lab runtime component: several clusters in one process, each with its own port,
CA, token and kubeconfig file; one cluster's token or CA is no good at another."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from autorke_lab.kube.fleet import KubeFleet


@pytest.fixture
def fleet(tmp_path):
    fleet = KubeFleet.for_clusters(["rke2-a", "rke1-b"], tmp_path, base_port=0,
                                   seed_workloads=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(fleet.start(), loop).result(30)
    yield fleet
    asyncio.run_coroutine_threadsafe(fleet.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_clusters_are_separate(fleet, tmp_path):
    status = fleet.status()["clusters"]
    assert [c["name"] for c in status] == ["rke2-a", "rke1-b"]
    assert len({c["port"] for c in status}) == 2
    apis = {}
    for entry in status:
        assert entry["kubeconfig"] == str(tmp_path / "kube" / entry["name"] / "kubeconfig.yaml")
        kubeconfig = yaml.safe_load(Path(entry["kubeconfig"]).read_text())
        api = config.new_client_from_config_dict(kubeconfig)
        apis[entry["name"]] = (api, kubeconfig)
        client.CoreV1Api(api).create_node(client.V1Node(
            metadata=client.V1ObjectMeta(name=f"only-in-{entry['name']}")))
    for name, (api, _) in apis.items():
        assert [n.metadata.name for n in client.CoreV1Api(api).list_node().items] == \
            [f"only-in-{name}"]
    # a's token at b: 401; a's CA does not verify b's certificate
    (_, a_cfg), (_, b_cfg) = apis["rke2-a"], apis["rke1-b"]
    mixed = yaml.safe_load(yaml.safe_dump(b_cfg))
    mixed["users"][0]["user"]["token"] = a_cfg["users"][0]["user"]["token"]
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(config.new_client_from_config_dict(mixed)).list_node()
    assert denied.value.status == 401
    wrong_ca = yaml.safe_load(yaml.safe_dump(b_cfg))
    wrong_ca["clusters"][0]["cluster"]["certificate-authority-data"] = \
        a_cfg["clusters"][0]["cluster"]["certificate-authority-data"]
    strict = config.new_client_from_config_dict(wrong_ca)
    strict.configuration.retries = 0
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        client.CoreV1Api(strict).list_node(_request_timeout=5)
    for api, _ in apis.values():
        api.close()
