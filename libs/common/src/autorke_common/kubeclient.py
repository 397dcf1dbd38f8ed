"""The Kubernetes client for a cluster, built by hand from a checked kubeconfig, never by the loader.

``kubernetes.config`` (``load_kube_config``, ``new_client_from_config_dict``,
``KubeConfigLoader``) runs ``exec`` plugins and reads local files while it loads; see
:mod:`autorke_common.kubeconfig` for why that gives code execution on the executor and
netcfg. Here the kubeconfig text is checked against the allow-list first (refused:
``unsafe-kubeconfig``, before anything is started or read), and the client's
``Configuration`` gets exactly four things: the https ``host``, the inline CA (as data, no
file), and a bearer token or a client certificate and key.

The client (urllib3) loads a client certificate and key only from files, at every new
connection. They go into a private directory (0700, files 0600) that lives as long as the
client and is removed when it is closed (or collected). The executor's and netcfg's kube
adapters use this; only services that depend on ``kubernetes`` import it.
"""
from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import weakref

from kubernetes import client

from autorke_common.kubeconfig import Kubeconfig, parse_kubeconfig


class ClusterClient(client.ApiClient):
    """An ``ApiClient`` that removes its private certificate directory when closed."""

    def __init__(self, configuration: client.Configuration, private_dir: str | None) -> None:
        super().__init__(configuration=configuration)
        self.private_dir = private_dir
        self._cleanup = weakref.finalize(self, _remove, private_dir) if private_dir else None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._cleanup is not None:
                self._cleanup()


def _remove(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def _private_file(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


_CA_AS_DATA = "ca_cert_data" in inspect.signature(client.Configuration.__init__).parameters


def configuration(kubeconfig: Kubeconfig, private_dir: str | None = None,
                  retries: int | None = None) -> client.Configuration:
    """The client's settings from a checked kubeconfig. ``private_dir`` (0700) receives the
    client certificate and key (and the CA on a client too old to take it as data)."""
    config = client.Configuration()
    config.host = kubeconfig.server
    config.verify_ssl = True
    if _CA_AS_DATA:
        config.ca_cert_data = kubeconfig.ca_pem
    else:  # pragma: no cover - kubernetes < 32 has no ca_cert_data
        config.ssl_ca_cert = _private_file(_need(private_dir), "ca.crt", kubeconfig.ca_pem)
    if kubeconfig.tls_server_name:
        config.tls_server_name = kubeconfig.tls_server_name
    if kubeconfig.token is not None:
        config.api_key = {"BearerToken": kubeconfig.token}
        config.api_key_prefix = {"BearerToken": "Bearer"}
    else:
        directory = _need(private_dir)
        config.cert_file = _private_file(directory, "client.crt", kubeconfig.client_cert_pem or "")
        config.key_file = _private_file(directory, "client.key", kubeconfig.client_key_pem or "")
    if retries is not None:
        config.retries = retries
    return config


def _need(private_dir: str | None) -> str:
    if private_dir is None:
        raise ValueError("a private directory is needed for the client certificate and key")
    return private_dir


def api_client(kubeconfig_text: str, *, retries: int | None = None,
               field: str = "kubeconfig") -> ClusterClient:
    """A client for the cluster ``kubeconfig_text`` names. Raises ``Invalid``
    (``unsafe-kubeconfig``) before anything is written or started when the text is not
    on the allow-list."""
    kubeconfig = parse_kubeconfig(kubeconfig_text, field=field)
    needs_files = kubeconfig.token is None or not _CA_AS_DATA
    private_dir = tempfile.mkdtemp(prefix="autorke-kube-") if needs_files else None  # 0700
    try:
        return ClusterClient(configuration(kubeconfig, private_dir, retries), private_dir)
    except BaseException:
        if private_dir:
            _remove(private_dir)
        raise
