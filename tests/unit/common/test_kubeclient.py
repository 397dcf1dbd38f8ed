"""C1: the Kubernetes client is built by hand from a checked kubeconfig — host, the CA as
data, a bearer token or a client certificate and key in 0600 files of a 0700 directory
removed when the client closes — and never by the client's loader; an unsafe kubeconfig is
refused before any file is written or anything started."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
from kubernetes import config as kube_config

from autorke_common import kubeclient
from autorke_common.errors import Invalid
from fixtures.kubeconfigs import CA_PEM, CERT_PEM, KEY_PEM, cert_doc, exec_kubeconfig, text, token_doc


@pytest.fixture(autouse=True)
def no_loader(monkeypatch):
    """Any use of the client's own loader fails the test."""
    def loader(*_a, **_k):
        raise AssertionError("the kubeconfig loader was used")

    for name in ("new_client_from_config", "new_client_from_config_dict", "load_kube_config",
                 "load_kube_config_from_dict"):
        monkeypatch.setattr(kube_config, name, loader)
    monkeypatch.setattr(kube_config.kube_config.KubeConfigLoader, "__init__", loader)


def test_a_token_kubeconfig_gives_a_bearer_client_with_the_ca_as_data_and_no_files():
    api = kubeclient.api_client(text(token_doc("https://10.0.0.9:6443")), retries=1)
    try:
        c = api.configuration
        assert c.host == "https://10.0.0.9:6443" and c.verify_ssl is True and c.retries == 1
        assert c.ca_cert_data == CA_PEM and c.ssl_ca_cert is None
        assert c.auth_settings()["BearerToken"]["value"] == "Bearer t0ken-never-shown"
        assert c.cert_file is None and c.key_file is None and api.private_dir is None
        assert c.username is None and c.password is None
    finally:
        api.close()


def test_a_client_certificate_lives_in_private_files_only_while_the_client_does():
    api = kubeclient.api_client(text(cert_doc()))
    c = api.configuration
    directory = api.private_dir
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for path, content in ((c.cert_file, CERT_PEM), (c.key_file, KEY_PEM)):
        assert os.path.dirname(path) == directory and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert Path(path).read_text() == content
    assert c.auth_settings() == {}  # no token
    api.close()
    assert not os.path.exists(directory)


def test_an_unsafe_kubeconfig_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    made: list[str] = []
    real = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    marker = tmp_path / "ran"
    with pytest.raises(Invalid) as caught:
        kubeclient.api_client(exec_kubeconfig(marker, base=cert_doc()), field="kubeconfig")
    assert caught.value.slug == "unsafe-kubeconfig" and not marker.exists() and made == []
