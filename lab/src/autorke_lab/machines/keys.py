"""SSH key pairs for the lab, made in-process.

``ssh-keygen`` costs ~25 ms a key; a 1,000-machine fleet needs 1,000 host keys, so the
keys are made with ``cryptography`` (well under 1 ms each) and written in OpenSSH format.
"""
from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def write_key_pair(path: Path, comment: str = "") -> str:
    """Write an ed25519 private key at ``path`` (0600) and ``path.pub``; return the public line."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    line = f"{public} {comment}".strip()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    path.with_name(path.name + ".pub").write_text(line + "\n")
    return public


def read_public_key(path: Path) -> str:
    """``"ssh-ed25519 AAAA…"`` (type and base64, without the comment) of a ``.pub`` file."""
    parts = path.read_text().split()
    return f"{parts[0]} {parts[1]}"


def ensure_key_pair(path: Path, comment: str = "") -> str:
    """The public key of ``path``, creating the pair first when it does not exist."""
    pub = path.with_name(path.name + ".pub")
    if path.exists() and pub.exists():
        return read_public_key(pub)
    return write_key_pair(path, comment)


def fingerprint(public_key: str) -> str:
    """OpenSSH's SHA256 fingerprint of ``"type base64"``."""
    blob = base64.b64decode(public_key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"
