"""``autorke nats-config``: the bus's users, permissions and TLS for a NATS server that
``autorke up`` does not run (docker compose, an external server). It writes, into one
folder:

* ``creds/<user>.nk``: each bus user's nkey seed (0600; kept when present, so running it
  again changes nothing; delete ``creds/`` to rotate every credential);
* ``nats-server.conf``: the server's configuration (:func:`natsauth.server_config`), with
  the certificate paths as the server will see them (``--tls-cert``/``--tls-key``);
* with ``--self-signed-tls HOST``: ``tls/ca.crt``, ``tls/server.crt`` and
  ``tls/server.key`` (a CA of this folder's own and a server certificate for HOST); the
  CA's key is kept apart in ``ca/ca.key``. Bring your own certificates in production.
* with ``--cluster-routes HOST,...``: the ``cluster`` block of a NATS cluster whose every
  node reads this one file (each named by its ``--name``; so no ``server_name`` here):
  routes to each HOST over mutual TLS with a CA of the routes' own, made under ``routes/``
  (``routes/tls/`` as for the clients, the CA's key in ``routes/ca/``; kept when
  ``routes/tls/server.crt`` exists, delete ``routes/`` to make new ones). The certificate
  names every HOST (and ``--route-names``) and proves both ends of a route, so only a
  holder of it joins the cluster, as ``autorke up --nats-cluster`` does locally.

docker-compose.yml mounts these files as secrets: each service only its own seed;
deploy/kubernetes/make-secrets.sh puts them in Secrets (the routes' for overlays/ha).
"""
from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from autorke_common.natsauth import (
    ClusterNode,
    ServerTls,
    ensure_credentials,
    server_config,
    write_server_config,
)


def register(subparsers) -> None:
    p = subparsers.add_parser("nats-config", help="write the bus users' credentials and the nats-server "
                                                  "configuration for a NATS server you run yourself")
    p.add_argument("--out", type=Path, required=True, help="the folder to write (creds/, nats-server.conf, tls/)")
    p.add_argument("--listen", default="0.0.0.0:4222", help="the server's client address (default 0.0.0.0:4222)")
    p.add_argument("--store-dir", default="/data", help="JetStream's folder as the server sees it")
    p.add_argument("--monitor-port", type=int, default=8222, help="HTTP monitoring port (health checks); 0: none")
    p.add_argument("--tls-cert", help="the server certificate's path as the server sees it")
    p.add_argument("--tls-key", help="the server key's path as the server sees it")
    p.add_argument("--self-signed-tls", metavar="HOST",
                   help="also make a CA and a certificate for HOST under <out>/tls (trials, compose)")
    p.add_argument("--cluster-routes", metavar="HOSTS",
                   help="comma-separated: every node of a NATS cluster (this one too) as the others reach it; "
                        "adds the cluster block, routes over mutual TLS with a CA of their own (<out>/routes)")
    p.add_argument("--cluster-port", type=int, default=6222, help="the routes' port (default 6222)")
    p.add_argument("--route-names", metavar="NAMES", default="",
                   help="comma-separated: more names the route certificate carries besides HOSTS")
    p.add_argument("--route-tls-dir",
                   help="<out>/routes/tls (ca.crt, server.crt, server.key) as the server sees it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    keys = ensure_credentials(out / "creds")
    if args.self_signed_tls:
        self_signed_tls(out, args.self_signed_tls)
    tls = ServerTls(args.tls_cert, args.tls_key) if args.tls_cert and args.tls_key else None
    cluster = None
    if args.cluster_routes:
        cluster = route_cluster(out, _listed(args.cluster_routes), args.cluster_port,
                                _listed(args.route_names), args.route_tls_dir)
    config = json.loads(server_config(keys, store_dir=args.store_dir, listen=args.listen, tls=tls,
                                      monitor_port=args.monitor_port or None, cluster=cluster))
    config.pop("server_name", None)  # one file for every node of a cluster: each is its --name
    write_server_config(out / "nats-server.conf", json.dumps(config, indent=2) + "\n")
    routes = f"; routes to {len(cluster.routes)} nodes over mutual TLS" if cluster else ""
    print(f"wrote {out / 'nats-server.conf'} ({len(keys)} users; TLS {'on' if tls else 'OFF'}{routes}) "
          f"and {out / 'creds'}/<user>.nk")
    return 0


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def route_cluster(out: Path, hosts: Sequence[str], port: int, names: Sequence[str] = (),
                  tls_dir: str | None = None) -> ClusterNode:
    """The cluster every node of it configures alike: listening on ``port``, routes to each
    of ``hosts`` there, over mutual TLS with the CA and certificate (for ``hosts`` and
    ``names``, server and client use) made under ``<out>/routes``; ``tls_dir`` is
    ``<out>/routes/tls`` as the server sees it."""
    if not hosts:
        raise ValueError("a cluster needs the hosts of its routes")
    self_signed_tls(out / "routes", hosts[0], clients=True, also=[*hosts[1:], *names])
    seen = Path(tls_dir) if tls_dir else (out / "routes" / "tls").resolve()
    tls = ServerTls(str(seen / "server.crt"), str(seen / "server.key"), str(seen / "ca.crt"))
    # no server name: each node takes its own from --name
    return ClusterNode("", f"0.0.0.0:{port}", tuple(f"{host}:{port}" for host in hosts), tls)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed_tls(out: Path, host: str, days: int = 825, *, clients: bool = False,
                    also: Sequence[str] = ()) -> None:
    """A CA and a server certificate for ``host`` and the names in ``also`` (names or IP
    addresses; kept when ``tls/server.crt`` exists). ``clients``: the certificate may also
    prove a client (the servers of a cluster present it to each other on their routes)."""
    if (out / "tls" / "server.crt").exists():
        return
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AutoRKE NATS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_name(name) for name in dict.fromkeys(
                [host, *also, "localhost"])]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]
                                                 + ([ExtendedKeyUsageOID.CLIENT_AUTH] if clients else [])),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    private = {"encoding": pem, "format": serialization.PrivateFormat.PKCS8,
               "encryption_algorithm": serialization.NoEncryption()}
    _write(out / "ca" / "ca.key", ca_key.private_bytes(**private), 0o600)
    os.chmod(out / "ca", 0o700)
    _write(out / "tls" / "ca.crt", ca.public_bytes(pem), 0o644)
    _write(out / "tls" / "server.key", key.private_bytes(**private), 0o600)
    _write(out / "tls" / "server.crt", cert.public_bytes(pem), 0o644)
