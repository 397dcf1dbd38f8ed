"""What of a config may be shown: secret kinds (``cluster.rkestate``, kubeconfig) keep their
structure but every value not on a short list of harmless keys is replaced by
``<redacted:xxxxxxxx>`` (a hash prefix, so a diff still shows *that* a secret changed);
``cluster.yml`` has its inline keys and S3 credentials redacted. The unified diff between
two versions is computed on redacted text only, so no secret can leak through it."""
from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

import yaml

from autorke_common import untrusted_yaml

SECRET_KINDS = frozenset({"cluster.rkestate", "kubeconfig"})
# keys whose values are harmless in a secret document (names, paths, addresses)
SAFE_KEYS = frozenset({
    "name", "commonName", "path", "keyPath", "envName", "keyEnvName", "configPath",
    "configEnvName", "ouName", "address", "hostname_override", "internal_address", "port",
    "user", "role", "cluster_name", "kubernetes_version", "server", "cluster", "namespace",
    "current-context", "kind", "apiVersion", "plugin", "insecure-skip-tls-verify",
})
# keys of cluster.yml (not a secret kind) that nevertheless hold secrets
YML_SECRET_KEYS = frozenset({"ssh_key", "ssh_cert", "access_key", "secret_key", "password",
                             "token", "custom_ca", "kubeconfig"})


def content_hash(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


def _mask(value: Any) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
    return f"<redacted:{digest[:8]}>"


def _walk(value: Any, secret_doc: bool, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, secret_doc, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, secret_doc, key) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if secret_doc:
        return value if key in SAFE_KEYS and len(str(value)) <= 200 else _mask(value)
    return _mask(value) if key in YML_SECRET_KEYS else value


def redact(kind: str, content: str) -> str:
    """``content`` with its secrets masked, as text. A secret document that does not parse
    is masked whole, and so is any document with YAML anchors or aliases (refused on import;
    an older version stored with them is never expanded)."""
    secret = kind in SECRET_KINDS
    try:
        doc = json.loads(content) if kind == "cluster.rkestate" else untrusted_yaml.load(content)
    except untrusted_yaml.UnsafeYaml:
        return _mask(content)   # aliases are never expanded, and what they could hide is never shown
    except (ValueError, yaml.YAMLError):
        return _mask(content) if secret else content
    if not isinstance(doc, (dict, list)):
        return _mask(content) if secret else content
    clean = _walk(doc, secret)
    if kind == "cluster.rkestate":
        return json.dumps(clean, indent=2, sort_keys=True) + "\n"
    return yaml.safe_dump(clean, sort_keys=False, default_flow_style=False)


def diff(kind: str, old: str, new: str, old_label: str, new_label: str) -> str:
    """Unified diff of the redacted texts of two versions."""
    a = redact(kind, old).splitlines(keepends=True)
    b = redact(kind, new).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, fromfile=old_label, tofile=new_label))
