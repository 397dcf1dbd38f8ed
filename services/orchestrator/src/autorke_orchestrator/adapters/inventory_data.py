"""A tolerant reader of the inventory's events: the fields the catalogue declares, plus the
SSH connection data of a machine when the event carries it.

The inventory keeps a machine's SSH data (address, port, user, host key, bastion) from its
CMDB record; the executor needs it, host key included, to reach the machine. The
catalogue's machine events do not declare it yet, so this reader accepts it wherever it
may come: a top-level ``ssh`` object on ``inventory.machine.added`` / ``.updated``, or an
``ssh`` object inside a ``network`` facet. Fields the catalogue does not know are dropped
before parsing (the catalogue's models forbid extras), so an inventory that adds optional
fields never makes the orchestrator dead-letter its events.
"""
from __future__ import annotations

from typing import Any

from autorke_common.catalogue import Message
from autorke_common.envelope import Envelope

SSH_KEYS = ("address", "port", "user", "host_key")


def message(env: Envelope, known: dict[str, type[Message]]) -> Message:
    """The typed message of one of the ``known`` types (by type name), ignoring fields this
    process's catalogue does not declare; any other type is parsed as the catalogue says."""
    cls = known.get(env.type)
    if cls is None or env.schema_version != cls.VERSION:
        return env.parsed()
    return cls.model_validate({k: v for k, v in env.data.items() if k in cls.model_fields})


def _bastion(value: Any) -> dict[str, Any] | str | None:
    """A bastion as the executor's ``SshEndpoint`` fields, or its host name alone (looked up
    in the read model when a plan is made), or None."""
    if isinstance(value, str) and value:
        return value
    if not isinstance(value, dict):
        return None
    host = value.get("host") or value.get("hostname") or value.get("address")
    if not host:
        return None
    if not value.get("address") or not value.get("host_key"):
        return str(host)
    return {"host": str(host), "address": str(value["address"]), "port": int(value.get("port") or 22),
            "user": value.get("user"), "host_key": str(value["host_key"])}


def ssh(data: dict[str, Any]) -> dict[str, Any] | None:
    """The SSH connection data an inventory machine event carries, normalised; None when it
    carries none (the read model then keeps what it had)."""
    raw = data.get("ssh")
    if not isinstance(raw, dict):
        network = data.get("network")
        raw = network.get("ssh") if isinstance(network, dict) else None
    if not isinstance(raw, dict):
        return None
    out: dict[str, Any] = {k: raw[k] for k in SSH_KEYS if raw.get(k) not in (None, "")}
    if "port" in out:
        out["port"] = int(out["port"])
    bastion = _bastion(raw.get("bastion"))
    if bastion:
        out["bastion"] = bastion
    return out
