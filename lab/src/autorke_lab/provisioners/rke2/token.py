"""RKE2 join tokens for lab clusters, in RKE2's "secure" format.

A real RKE2 server's ``/var/lib/rancher/rke2/server/node-token`` reads
``K10<sha256 of the cluster CA, hex>::server:<password>``: the agent fetches the CA from
the server and trusts it only if its hash matches. The lab API stand-in has one bearer
token per cluster, so a lab join token is ``K10<sha256(ca.crt)>::server:<bearer token>``:
the hash names the cluster (its CA, found in the lab's kube state directory, see
:mod:`.agent`) and the password is the token the simulated kubelet authenticates with.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "K10"


@dataclass(frozen=True)
class JoinToken:
    ca_hash: str
    password: str


def join_token(ca_pem: bytes, bearer: str) -> str:
    return f"{PREFIX}{hashlib.sha256(ca_pem).hexdigest()}::server:{bearer}"


def parse(token: str) -> JoinToken:
    if not token.startswith(PREFIX) or "::" not in token:
        raise ValueError("not an RKE2 secure token (K10<ca-hash>::<user>:<password>)")
    head, _, creds = token.partition("::")
    _, _, password = creds.partition(":")
    if not password:
        raise ValueError("token has no password")
    return JoinToken(head[len(PREFIX):], password)
