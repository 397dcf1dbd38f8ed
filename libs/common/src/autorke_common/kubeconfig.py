"""A kubeconfig from outside, read against an allow-list instead of the Kubernetes client's loader.

An operator uploads a cluster's kubeconfig (register, PATCH), an imported ``cluster.rkestate``
carries the kube-admin one, and the executor and netcfg open sealed ones that were stored
before this check existed. The client's own loader would run a ``users[].exec`` plugin or an
``auth-provider`` command, read ``tokenFile`` and certificate paths from the local disk and
send them to whatever ``server`` says, and honour ``insecure-skip-tls-verify`` and
``proxy-url``: code execution and credential theft on the hosts that hold the fleet's key.

So a kubeconfig is accepted only in one shape: exactly one cluster reached over ``https``
with its CA inline (``certificate-authority-data``), exactly one user with a bearer ``token``
or an inline client certificate and key (``client-certificate-data`` + ``client-key-data``),
and one context naming the two. Anything else is refused with ``unsafe-kubeconfig`` (422 at
the edge) naming the request field; the detail says which key, never a value. Inventory
checks before it stores, the executor and netcfg again before they connect
(:mod:`autorke_common.kubeclient` builds the client from :class:`Kubeconfig` by hand).

Pure parsing with pyyaml; YAML aliases and duplicate keys are refused too (one meaning per
document, no expansion bombs).
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from autorke_common.errors import Invalid

SLUG = "unsafe-kubeconfig"
MAX_BYTES = 256 * 1024  # a CA bundle, a client certificate and key fit many times over
MAX_DEPTH = 16  # a kubeconfig nests five levels deep

_TOP = {"apiVersion", "kind", "clusters", "contexts", "users", "current-context", "preferences"}
_CLUSTER = {"server", "certificate-authority-data", "tls-server-name", "api-version"}
_USER = {"token", "client-certificate-data", "client-key-data"}
_CONTEXT = {"cluster", "user", "namespace"}

#: keys the loader would act on, and why each is refused
_REFUSED = {
    "exec": "an exec plugin runs a program on the platform's hosts",
    "auth-provider": "an auth provider runs a command or fetches tokens on the platform's hosts",
    "tokenFile": "a token file is read from the platform's disk and sent to the server",
    "certificate-authority": "a file path is read from the platform's disk; give certificate-authority-data",
    "client-certificate": "a file path is read from the platform's disk; give client-certificate-data",
    "client-key": "a file path is read from the platform's disk; give client-key-data",
    "insecure-skip-tls-verify": "the server's certificate must be verified against the inline CA",
    "proxy-url": "the platform connects to the cluster's API directly, never through a proxy named here",
    "username": "basic authentication is not accepted; give a token or a client certificate",
    "password": "basic authentication is not accepted; give a token or a client certificate",
    "as": "impersonation is not accepted", "as-uid": "impersonation is not accepted",
    "as-groups": "impersonation is not accepted", "as-user-extra": "impersonation is not accepted",
}
_TOKEN = re.compile(r"[\x21-\x7e]{1,16384}")  # printable ASCII, no blanks: it becomes a header
_HOST = re.compile(r"[\x21-\x7e]+")
_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_END = re.compile(r"-----END ([A-Z0-9 ]+)-----")


@dataclass(frozen=True)
class Kubeconfig:
    """What a checked kubeconfig says: where the API is, which CA signs it, and one way in
    (``token``, or ``client_cert_pem`` with ``client_key_pem``). Secrets stay out of repr."""

    server: str
    ca_pem: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    client_cert_pem: str | None = field(default=None, repr=False)
    client_key_pem: str | None = field(default=None, repr=False)
    tls_server_name: str | None = None


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML without anchors or aliases (no expansion), nested at most :data:`MAX_DEPTH`
    deep (no recursion exhausted), and without duplicate keys (no second meaning)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.constructor.ConstructorError(None, None, "YAML anchors and aliases are not accepted",
                                                    event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.constructor.ConstructorError(None, None, f"it nests deeper than {MAX_DEPTH} levels",
                                                        event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(None, None, "keys must be strings", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_kubeconfig(text: str, field: str = "kubeconfig") -> Kubeconfig:
    """``text`` checked against the allow-list; :class:`~autorke_common.errors.Invalid`
    ``unsafe-kubeconfig`` with ``field`` (the request field it came in) when it is not."""
    return _Check(field).kubeconfig(text)


class _Check:
    """One check's refusals carry the same field; each names the key path at fault."""

    def __init__(self, field: str) -> None:
        self.field = field

    def refuse(self, where: str, why: str) -> Invalid:
        return Invalid(SLUG, f"kubeconfig refused at {where}: {why}", field=self.field)

    def kubeconfig(self, text: str) -> Kubeconfig:
        if not isinstance(text, str) or not text.strip():
            raise self.refuse("the document", "it is empty")
        if len(text.encode("utf-8", "replace")) > MAX_BYTES:
            raise self.refuse("the document", f"it is larger than {MAX_BYTES // 1024} KiB")
        loader = _StrictLoader(text)
        try:
            doc = loader.get_single_data()
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "not YAML"
            raise self.refuse("the document", f"it is not a YAML document ({problem})") from None
        finally:
            loader.dispose()
        if not isinstance(doc, dict):
            raise self.refuse("the document", "it is not a mapping")
        self.keys("the document", doc, _TOP)
        if doc.get("kind", "Config") != "Config" or doc.get("apiVersion", "v1") != "v1":
            raise self.refuse("kind/apiVersion", "it must be a v1 Config")
        if not isinstance(doc.get("preferences") or {}, dict):
            raise self.refuse("preferences", "it must be a mapping")
        cluster_name, cluster = self.only(doc, "clusters", "cluster")
        user_name, user = self.only(doc, "users", "user")
        context_name, context = self.only(doc, "contexts", "context")
        self.context(context, cluster_name, user_name)
        current = doc.get("current-context")
        if current not in (None, "", context_name):
            raise self.refuse("current-context", "it must name the one context")
        server, ca, sni = self.cluster(cluster)
        return Kubeconfig(server=server, ca_pem=ca, tls_server_name=sni, **self.user(user))

    def keys(self, where: str, mapping: dict[str, Any], allowed: set[str]) -> None:
        for key in mapping:
            if key in _REFUSED:
                raise self.refuse(f"{where}.{key}", _REFUSED[key])
            if key not in allowed:
                raise self.refuse(f"{where}.{key}", f"not on the allow-list ({', '.join(sorted(allowed))})")

    def only(self, doc: dict[str, Any], section: str, inner: str) -> tuple[str, dict[str, Any]]:
        """The one named entry of ``section`` (``clusters``, ``users``, ``contexts``)."""
        entries = doc.get(section)
        if not isinstance(entries, list) or len(entries) != 1:
            raise self.refuse(section, f"exactly one {inner} is accepted")
        entry = entries[0]
        where = f"{section}[0]"
        if not isinstance(entry, dict):
            raise self.refuse(where, "it is not a mapping")
        self.keys(where, entry, {"name", inner})
        name, body = entry.get("name"), entry.get(inner)
        if not isinstance(name, str) or not name:
            raise self.refuse(f"{where}.name", "a name is required")
        if not isinstance(body, dict):
            raise self.refuse(f"{where}.{inner}", "it is not a mapping")
        return name, body

    def context(self, context: dict[str, Any], cluster: str, user: str) -> None:
        self.keys("contexts[0].context", context, _CONTEXT)
        if context.get("cluster") != cluster:
            raise self.refuse("contexts[0].context.cluster", "it must name the one cluster")
        if context.get("user") != user:
            raise self.refuse("contexts[0].context.user", "it must name the one user")

    def cluster(self, cluster: dict[str, Any]) -> tuple[str, str, str | None]:
        where = "clusters[0].cluster"
        self.keys(where, cluster, _CLUSTER)
        server = self.server(cluster.get("server"))
        if "certificate-authority-data" not in cluster:
            raise self.refuse(f"{where}.certificate-authority-data",
                              "the cluster's CA must be given inline (base64 PEM)")
        ca = self.pem(f"{where}.certificate-authority-data", cluster["certificate-authority-data"], "CERTIFICATE")
        sni = cluster.get("tls-server-name")
        if sni is not None and (not isinstance(sni, str) or not _HOST.fullmatch(sni)):
            raise self.refuse(f"{where}.tls-server-name", "it must be a host name")
        return server, ca, sni

    def server(self, value: Any) -> str:
        where = "clusters[0].cluster.server"
        if not isinstance(value, str) or not value or not _HOST.fullmatch(value):
            raise self.refuse(where, "an https URL is required")
        try:
            url = urlsplit(value)
            url.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise self.refuse(where, "it is not a URL") from None
        if url.scheme != "https":
            raise self.refuse(where, "the API must be reached over https")
        if not url.hostname:
            raise self.refuse(where, "it names no host")
        if url.username is not None or url.password is not None:
            raise self.refuse(where, "credentials in the URL are not accepted")
        if url.query or url.fragment:
            raise self.refuse(where, "a query or fragment is not accepted")
        return value.rstrip("/")

    def user(self, user: dict[str, Any]) -> dict[str, str]:
        where = "users[0].user"
        self.keys(where, user, _USER)
        token = user.get("token")
        cert, key = user.get("client-certificate-data"), user.get("client-key-data")
        if token is not None and (cert is not None or key is not None):
            raise self.refuse(where, "give a token or a client certificate, not both")
        if token is not None:
            if not isinstance(token, str) or not _TOKEN.fullmatch(token):
                raise self.refuse(f"{where}.token", "it must be printable ASCII without blanks")
            return {"token": token}
        if cert is None or key is None:
            raise self.refuse(where, "a token, or client-certificate-data with client-key-data, is required")
        return {"client_cert_pem": self.pem(f"{where}.client-certificate-data", cert, "CERTIFICATE"),
                "client_key_pem": self.pem(f"{where}.client-key-data", key, "PRIVATE KEY")}

    def pem(self, where: str, value: Any, label: str) -> str:
        """Base64 of PEM text whose blocks are all ``label`` (``PRIVATE KEY``: any key kind)."""
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(where, "base64 PEM data is required")
        try:
            text = base64.b64decode("".join(value.split()), validate=True).decode("ascii")
        except (binascii.Error, ValueError):
            raise self.refuse(where, "it is not base64 of PEM text") from None
        begins, ends = _BEGIN.findall(text), _END.findall(text)
        if not begins or begins != ends or not all(_is(label, found) for found in begins):
            raise self.refuse(where, f"it must hold PEM {label.lower()} block(s)")
        return text


def _is(label: str, found: str) -> bool:
    """A PEM block of the kind asked for; any unencrypted key kind (RSA, EC, PKCS#8) is a key."""
    if label == "PRIVATE KEY":
        return found.endswith("PRIVATE KEY") and "ENCRYPTED" not in found
    return found == label
