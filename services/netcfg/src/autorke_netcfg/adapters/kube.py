"""Talking to a cluster's Kubernetes API with the official client: Calico's
``crd.projectcalico.org/v1`` resources (``ippools``, ``ipamblocks``, ``bgppeers``,
``bgpconfigurations``) through ``CustomObjectsApi`` and nodes through ``CoreV1Api``.

One ``ApiClient`` per cluster, built by hand from the cluster's kubeconfig (opened from its
sealed form only here, never logged) by :mod:`autorke_common.kubeclient`, never with the
client's loader (which would run an ``exec`` plugin or read local files): the kubeconfig is
checked against the allow-list first, and one that is not on it (stored before the check
existed) makes the cluster unreachable with ``unsafe-kubeconfig``, nothing started. Clusters
never share the client's global configuration. Clients are cached per cluster and
kubeconfig, and closed when the service stops.

The client's own errors never leave this module: an API error becomes
:class:`ClusterRefused` (:class:`ClusterConflict` for a 409: the object changed meanwhile,
or exists already) and a connection failure :class:`ClusterUnreachable`, so the service
layer knows nothing of the Kubernetes client or urllib3.
"""
from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from autorke_common import kubeclient
from autorke_common.errors import Invalid

GROUP, VERSION = "crd.projectcalico.org", "v1"
T: dict[str, Any] = {"_request_timeout": (5, 30)}   # connect, read (seconds)


class ClusterUnreachable(Exception):
    """The cluster's API could not be reached or refused our credentials."""


class UnsafeKubeconfig(ClusterUnreachable):
    """The cluster's kubeconfig is not on the allow-list (``unsafe-kubeconfig``): nothing was
    started or read with it, and retrying cannot help until it is replaced in inventory."""


class ClusterRefused(Exception):
    """The cluster's API answered with an error (``status``, ``reason``)."""

    def __init__(self, status: int | None, reason: str | None) -> None:
        super().__init__(f"the cluster's API answered {status} {reason}")
        self.status, self.reason = status, reason


class ClusterConflict(ClusterRefused):
    """409: the object changed since it was read, or exists already."""


F = TypeVar("F", bound=Callable[..., Any])


def _translated(call: F) -> F:
    """The Kubernetes client's and urllib3's errors as this module's own."""
    @functools.wraps(call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except ApiException as exc:
            kind = ClusterConflict if exc.status == 409 else ClusterRefused
            raise kind(exc.status, exc.reason) from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ClusterUnreachable(f"{type(exc).__name__} talking to the cluster") from exc
    return wrapper  # type: ignore[return-value]


class ClusterApi:
    """The few calls netcfg makes against one cluster. Every call raises
    :class:`ClusterRefused`, :class:`ClusterConflict` or :class:`ClusterUnreachable`, never
    the client's own errors."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    # -- Calico custom resources ----------------------------------------------------------
    @_translated
    def list(self, plural: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        return self.custom.list_cluster_custom_object(GROUP, VERSION, plural, **kwargs, **T)["items"]

    @_translated
    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            return self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name, **T)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    @_translated
    def create(self, plural: str, kind: str, name: str, spec: dict[str, Any],
               labels: dict[str, str] | None = None) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
                "metadata": {"name": name, "labels": labels or {}}, "spec": spec}
        return self.custom.create_cluster_custom_object(GROUP, VERSION, plural, body, **T)

    @_translated
    def replace_spec(self, plural: str, current: dict[str, Any],
                     spec: dict[str, Any]) -> dict[str, Any]:
        """Replace the spec, guarded by the resourceVersion we read (optimistic lock)."""
        body = dict(current, spec=spec)
        return self.custom.replace_cluster_custom_object(
            GROUP, VERSION, plural, current["metadata"]["name"], body, **T)

    @_translated
    def upsert(self, plural: str, kind: str, name: str, spec: dict[str, Any],
               labels: dict[str, str] | None = None) -> tuple[dict[str, Any], dict | None]:
        """Create or replace; returns (object, what was there before)."""
        current = self.get(plural, name)
        if current is None:
            return self.create(plural, kind, name, spec, labels), None
        body = dict(current, spec=spec)
        body["metadata"] = dict(current["metadata"], labels={**(current["metadata"].get("labels")
                                                               or {}), **(labels or {})})
        return self.custom.replace_cluster_custom_object(GROUP, VERSION, plural, name, body,
                                                   **T), current

    @_translated
    def delete(self, plural: str, name: str) -> None:
        try:
            self.custom.delete_cluster_custom_object(GROUP, VERSION, plural, name, **T)
        except ApiException as exc:
            if exc.status != 404:
                raise

    # -- nodes ----------------------------------------------------------------------------
    @_translated
    def nodes(self) -> list[dict[str, Any]]:
        items = self.core.list_node(**T).items
        return [self.api.sanitize_for_serialization(n) for n in items]

    @_translated
    def node(self, name: str) -> dict[str, Any] | None:
        try:
            return self.api.sanitize_for_serialization(self.core.read_node(name, **T))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    @_translated
    def patch_node_metadata(self, name: str, labels: dict[str, str | None],
                            annotations: dict[str, str | None]) -> None:
        """Strategic merge of labels and annotations; a ``None`` value removes the key."""
        self.core.patch_node(name, {"metadata": {"labels": labels, "annotations": annotations}}, **T)


def _api_client(name: str, kubeconfig_text: str) -> client.ApiClient:
    """The cluster's client, failing fast: one connection retry (urllib3 would otherwise
    retry three times). An unsafe kubeconfig: :class:`UnsafeKubeconfig` saying which key."""
    try:
        return kubeclient.api_client(kubeconfig_text, retries=1)
    except Invalid as exc:
        raise UnsafeKubeconfig(f"cluster {name}: {exc.detail}") from None


class KubeClusters:
    """``ApiClient`` per cluster, keyed by the cluster and a digest of its kubeconfig."""

    def __init__(self, open_secret: Callable[[str], str]) -> None:
        self._open = open_secret
        self._clients: dict[str, tuple[str, client.ApiClient]] = {}
        self._lock = threading.Lock()

    def for_cluster(self, name: str, kubeconfig_sealed: str | None) -> ClusterApi:
        if not kubeconfig_sealed:
            raise ClusterUnreachable(f"cluster {name} has no kubeconfig on record")
        digest = hashlib.sha256(kubeconfig_sealed.encode()).hexdigest()
        with self._lock:
            cached = self._clients.get(name)
            if cached and cached[0] == digest:
                return ClusterApi(cached[1])
            api = _api_client(name, self._open(kubeconfig_sealed))
            self._clients[name] = (digest, api)
            if cached:
                cached[1].close()
            return ClusterApi(api)

    def close(self) -> None:
        with self._lock:
            for _, api in self._clients.values():
                api.close()
            self._clients.clear()
