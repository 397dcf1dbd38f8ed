"""The certificates RKE generates for a cluster, and the ``cluster.rkestate`` that holds them.

Names, common names and paths follow RKE's ``pki`` package (``kube-ca``,
``kube-apiserver``, ``kube-node``, ``kube-etcd-<ip>``…, under ``/etc/kubernetes/ssl``).
Keys are ECDSA P-256 rather than RKE's RSA-2048 so that a lab ``rke up`` stays fast; the
certificates are real X.509 signed by the cluster CA. The state is JSON
``{"desiredState": …, "currentState": …}`` like RKE's ``FullState``: it holds every
private key, so it is written with mode 0600 and never printed or logged.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .config import ClusterConfig

SSL_DIR = "/etc/kubernetes/ssl"
COMPONENTS = {  # name: (commonName, organisation)
    "kube-apiserver": ("system:kube-apiserver", None),
    "kube-controller-manager": ("system:kube-controller-manager", None),
    "kube-scheduler": ("system:kube-scheduler", None),
    "kube-proxy": ("system:kube-proxy", None),
    "kube-node": ("system:node", "system:nodes"),
    "kube-admin": ("kube-admin", "system:masters"),
    "kube-apiserver-proxy-client": ("system:kube-apiserver-proxy-client", None),
}


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _pem_key(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _issue(cn, org, issuer_cert, issuer_key, *, ca=False, sans=(), days=3650):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, org))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(cn, org))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        names = []
        for s in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                names.append(x509.DNSName(s))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert, key


def _entry(name, cn, cert, key, org=None) -> dict:
    return {
        "name": name,
        "commonName": cn,
        "ouName": org or "",
        "certificatePEM": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "keyPEM": _pem_key(key),
        "path": f"{SSL_DIR}/{name}.pem",
        "keyPath": f"{SSL_DIR}/{name}-key.pem",
        "configPath": f"{SSL_DIR}/kubecfg-{name}.yaml" if not name.startswith("kube-etcd") else "",
    }


def generate_bundle(config: ClusterConfig, existing: dict | None = None, rotate_ca=False) -> dict:
    """Every certificate of the cluster; the CA is kept from ``existing`` unless rotating it."""
    if existing and "kube-ca" in existing and not rotate_ca:
        ca_entry = existing["kube-ca"]
        ca_cert = x509.load_pem_x509_certificate(ca_entry["certificatePEM"].encode())
        ca_key = serialization.load_pem_private_key(ca_entry["keyPEM"].encode(), None)
    else:
        ca_cert, ca_key = _issue("kube-ca", None, None, None, ca=True)
        ca_entry = _entry("kube-ca", "kube-ca", ca_cert, ca_key)
    bundle = {"kube-ca": ca_entry}
    api_sans = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "localhost",
                "127.0.0.1", "10.43.0.1"]
    api_sans += [n.address for n in config.with_role("controlplane")]
    api_sans += [n.internal_address for n in config.with_role("controlplane")]
    for name, (cn, org) in COMPONENTS.items():
        sans = sorted(set(api_sans)) if name == "kube-apiserver" else ()
        cert, key = _issue(cn, org, ca_cert, ca_key, sans=sans)
        bundle[name] = _entry(name, cn, cert, key, org)
    for node in config.with_role("etcd"):
        name = "kube-etcd-" + node.internal_address.replace(".", "-")
        sans = sorted({node.address, node.internal_address, node.hostname, "localhost", "127.0.0.1"})
        cert, key = _issue(name, None, ca_cert, ca_key, sans=sans)
        bundle[name] = _entry(name, name, cert, key)
    return bundle


def full_state(config: ClusterConfig, bundle: dict) -> dict:
    state = {"rkeConfig": config.raw, "certificatesBundle": bundle, "encryptionConfig": ""}
    return {"desiredState": state, "currentState": state}


def read_state(path: Path) -> dict | None:
    if not path.exists():
        return None
    return json.loads(path.read_text())


def write_secret(path: Path, text: str) -> None:
    """Write a secret file with mode 0600, atomically (a crash never leaves half of it)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_state(path: Path, state: dict) -> None:
    write_secret(path, json.dumps(state, indent=2))
