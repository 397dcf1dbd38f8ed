"""What of a config may be shown: secret kinds (``cluster.rkestate``, kubeconfig) keep their
structure but every value not on a short list of harmless keys is replaced by
``<redacted:xxxxxxxx>`` (a hash prefix, so a diff still shows *that* a secret changed);
``cluster.yml`` has its inline keys, registry passwords and S3 credentials redacted (and
so have a cluster's ``options`` wherever they are shown). The unified diff between two
versions is computed on redacted text only, so no secret can leak through it; an rkestate
is also summarised as the certificates that change, by the digest of each certificate
(public), never of a key.

Every kind is sealed at rest (``SEALED_KINDS``, M5): an imported cluster.yml may carry an
inline ``ssh_key`` or a registry password."""
from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

import yaml

from autorke_common import untrusted_yaml

SECRET_KINDS = frozenset({"cluster.rkestate", "kubeconfig"})
#: kinds stored sealed: every one (a cluster.yml is shown redacted, not masked whole)
SEALED_KINDS = frozenset({"cluster.yml", "cluster.rkestate", "kubeconfig"})
#: characters of one diff carried in an event (the whole diff stays on the proposal)
DIFF_LIMIT = 64 * 1024
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


def redact_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """A cluster's options as a viewer sees them: any value under a secret key masked
    (options set before the schema refused secrets may still hold one)."""
    return _walk(dict(options or {}), False)


def certificates(rkestate: str) -> dict[str, str]:
    """``<state>.<certificate name>`` -> digest of its certificate (public) of each
    certificate of an rkestate (desiredState and currentState); keys are never read."""
    try:
        doc = json.loads(rkestate) if rkestate.strip() else {}
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for which, short in (("currentState", "current"), ("desiredState", "desired")):
        bundle = ((doc.get(which) or {}) if isinstance(doc, dict) else {}).get("certificatesBundle") or {}
        if not isinstance(bundle, dict):
            continue
        for name, cert in bundle.items():
            pem = cert.get("certificatePEM") if isinstance(cert, dict) else None
            if pem:
                out[f"{short}.{name}"] = content_hash(str(pem))[:23]
    return out


def certificate_changes(old: str, new: str) -> dict[str, dict[str, str | None]]:
    """The certificates that differ between two rkestates: name -> change, from, to."""
    a, b = certificates(old), certificates(new)
    out: dict[str, dict[str, str | None]] = {}
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            change = "added" if name not in a else "removed" if name not in b else "changed"
            out[name] = {"change": change, "from": a.get(name), "to": b.get(name)}
    return out


def is_ca(name: str) -> bool:
    return name.rsplit(".", 1)[-1].endswith("-ca")
