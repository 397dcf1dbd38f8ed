"""C1: the kubeconfig allow-list. One cluster over https with its CA inline, one user with a
token or an inline client certificate and key, the context naming them; every key the
client's loader would act on (run a program, read a file, skip TLS, use a proxy) and every
other shape is refused with ``unsafe-kubeconfig`` naming the request field, and the detail
never carries a value. The lab's own kubeconfigs pass (the whole suite uses them)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from autorke_common.errors import Invalid, problem_of
from autorke_common.kubeconfig import MAX_BYTES, Kubeconfig, parse_kubeconfig
from autorke_lab.kube.pki import kubeconfig as lab_kubeconfig
from autorke_lab.kube.pki import kubeconfig_yaml
from autorke_lab.provisioners.rke.kubeapi import LabAPI
from autorke_lab.provisioners.rke2.agent import write_kubeconfig
from fixtures.kubeconfigs import (
    CA_PEM,
    CERT_PEM,
    KEY_PEM,
    b64,
    cert_doc,
    exec_user,
    text,
    token_doc,
    with_cluster,
    with_user,
)


def refused(doc_or_text, field: str = "kubeconfig") -> Invalid:
    source = doc_or_text if isinstance(doc_or_text, str) else text(doc_or_text)
    with pytest.raises(Invalid) as caught:
        parse_kubeconfig(source, field=field)
    assert caught.value.slug == "unsafe-kubeconfig"
    assert caught.value.extensions == {"field": field}
    return caught.value


# -- accepted shapes ---------------------------------------------------------------------
def test_a_token_kubeconfig_is_accepted():
    got = parse_kubeconfig(text(token_doc("https://127.0.0.1:6443/")))
    assert got == Kubeconfig(server="https://127.0.0.1:6443", ca_pem=CA_PEM, token="t0ken-never-shown")
    assert "t0ken" not in repr(got)


def test_an_rke_kube_admin_kubeconfig_with_an_inline_client_certificate_is_accepted():
    got = parse_kubeconfig(text(cert_doc()))
    assert (got.server, got.token, got.client_cert_pem, got.client_key_pem) == \
        ("https://10.0.0.1:6443", None, CERT_PEM, KEY_PEM)
    assert "PRIVATE" not in repr(got)


def test_a_path_behind_a_proxy_ipv6_sni_namespace_and_no_current_context_are_accepted():
    doc = with_cluster(token_doc("https://[fd00::1]:6443/k8s/clusters/c-x"), **{"tls-server-name": "api.lab"})
    doc["contexts"][0]["context"]["namespace"] = "kube-system"
    del doc["current-context"]
    got = parse_kubeconfig(text(doc))
    assert got.server == "https://[fd00::1]:6443/k8s/clusters/c-x" and got.tls_server_name == "api.lab"


def test_the_labs_own_kubeconfigs_pass(tmp_path):
    """The lab cluster APIs' kubeconfig (registered for rke2-lab), the rke stand-in's
    kube_config_cluster.yml (rke1-lab), the rke2 stand-in's node kubeconfig."""
    lab = lab_kubeconfig("lab", "https://127.0.0.1:6444", CA_PEM.encode(), "lab-token")
    assert parse_kubeconfig(kubeconfig_yaml(lab)).token == "lab-token"
    rke = LabAPI("https://127.0.0.1:6444", CA_PEM.encode(), "lab-token").kubeconfig("rke1-lab", "kube-admin-rke1-lab")
    assert parse_kubeconfig(yaml.safe_dump(rke)).server == "https://127.0.0.1:6444"
    write_kubeconfig("https://127.0.0.1:9345", CA_PEM.encode(), "node-token", tmp_path / "agent.yaml")
    assert parse_kubeconfig((tmp_path / "agent.yaml").read_text()).token == "node-token"


# -- refused: what the loader would act on ------------------------------------------------
@pytest.mark.parametrize("user", [
    pytest.param(exec_user(Path("/nonexistent/marker")), id="exec"),
    pytest.param({"auth-provider": {"name": "oidc", "config": {"cmd-path": "/bin/sh"}}}, id="auth-provider"),
    pytest.param({"tokenFile": "/etc/shadow"}, id="tokenFile"),
    pytest.param({"client-certificate": "/root/.ssh/id_rsa", "client-key": "/root/.ssh/id_rsa"},
                 id="client-certificate-path"),
    pytest.param({"client-certificate-data": b64(CERT_PEM), "client-key": "/root/.ssh/id_rsa"}, id="client-key-path"),
    pytest.param({"username": "admin", "password": "secret-pw"}, id="basic-auth"),
    pytest.param({"token": "t", "as": "system:admin"}, id="impersonation"),
    pytest.param({"token": "t", "colour": "blue"}, id="unknown-key"),
])
def test_a_user_the_loader_would_act_on_is_refused(user):
    problem = refused(with_user(token_doc(), user))
    assert "users[0].user." in problem.detail
    assert "/etc/shadow" not in problem.detail and "secret-pw" not in problem.detail  # no value echoed


@pytest.mark.parametrize("key,value", [
    ("certificate-authority", "/etc/kubernetes/ssl/kube-ca.pem"),
    ("insecure-skip-tls-verify", True),
    ("proxy-url", "http://attacker:3128"),
    ("extensions", []),
])
def test_a_cluster_the_loader_would_act_on_is_refused(key, value):
    problem = refused(with_cluster(token_doc(), **{key: value}))
    assert f"clusters[0].cluster.{key}" in problem.detail


@pytest.mark.parametrize("server,why", [
    ("http://127.0.0.1:6443", "https"),
    ("127.0.0.1:6443", "https"),
    ("https://", "no host"),
    ("https://user:pw@10.0.0.1:6443", "credentials"),
    ("https://10.0.0.1:6443/?x=1", "query"),
    ("https://10.0.0.1:notaport", "not a URL"),
    ("https://10.0.0.1 :6443", "https URL is required"),
    ("file:///etc/passwd", "https"),
])
def test_a_server_that_is_not_plain_https_is_refused(server, why):
    assert why in refused(with_cluster(token_doc(), server=server)).detail


def test_more_than_one_cluster_user_or_context_is_refused():
    for section in ("clusters", "users", "contexts"):
        doc = token_doc()
        doc[section].append({**copy.deepcopy(doc[section][0]), "name": "second"})
        assert section in refused(doc).detail
        doc[section] = []
        assert section in refused(doc).detail


def test_the_context_must_name_the_one_cluster_and_user():
    doc = token_doc()
    doc["contexts"][0]["context"]["cluster"] = "elsewhere"
    assert "context.cluster" in refused(doc).detail
    doc = token_doc()
    doc["current-context"] = "other"
    assert "current-context" in refused(doc).detail


@pytest.mark.parametrize("user,why", [
    ({}, "required"),
    ({"token": "t", "client-certificate-data": b64(CERT_PEM), "client-key-data": b64(KEY_PEM)}, "not both"),
    ({"client-certificate-data": b64(CERT_PEM)}, "required"),
    ({"token": "two words"}, "printable"),
    ({"token": "line\nbreak"}, "printable"),
    ({"token": 12345}, "printable"),
    ({"client-certificate-data": "%%%", "client-key-data": b64(KEY_PEM)}, "base64"),
    ({"client-certificate-data": b64(KEY_PEM), "client-key-data": b64(KEY_PEM)}, "certificate"),
    ({"client-certificate-data": b64(CERT_PEM), "client-key-data": b64(CERT_PEM)}, "private key"),
    ({"client-certificate-data": b64(CERT_PEM),
      "client-key-data": b64(KEY_PEM.replace("RSA PRIVATE", "ENCRYPTED PRIVATE"))}, "private key"),
])
def test_credentials_must_be_a_token_or_an_inline_certificate_and_key(user, why):
    assert why in refused(with_user(token_doc(), user)).detail


def test_the_ca_must_be_inline_pem():
    doc = token_doc()
    del doc["clusters"][0]["cluster"]["certificate-authority-data"]
    assert "inline" in refused(doc).detail
    assert "base64" in refused(with_cluster(token_doc(), **{"certificate-authority-data": "not base64!"})).detail
    assert "certificate" in refused(with_cluster(token_doc(), **{"certificate-authority-data": b64("hello")})).detail


@pytest.mark.parametrize("source,why", [
    ("", "empty"),
    ("   \n", "empty"),
    ("- a\n- b\n", "mapping"),
    ("a: [unclosed\n", "not a YAML document"),
    ("a: &x [1]\nb: *x\n", "aliases"),
    ("a: &x [1]\n", "anchors"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "deeper"),
    ("kind: Config\nkind: Config\n", "duplicate key"),
    ("apiVersion: v1\nkind: Secret\n", "v1 Config"),
    ("x" * (MAX_BYTES + 1), "larger"),
])
def test_a_document_that_is_not_one_plain_kubeconfig_is_refused(source, why):
    assert why in refused(source).detail


def test_the_refusal_carries_the_request_field_and_is_422_at_the_edge():
    problem = problem_of(refused(with_user(token_doc(), {"tokenFile": "/x"}), field="rkestate"))
    body = problem.to_dict()
    assert problem.status == 422 and body["type"].endswith("/unsafe-kubeconfig") and body["field"] == "rkestate"
