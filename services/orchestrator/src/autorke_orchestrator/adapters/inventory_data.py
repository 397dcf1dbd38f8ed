"""How the orchestrator reads the inventory's events: as the catalogue declares them, with
two allowances.

* Fields the catalogue does not declare are dropped before a machine event is parsed (the
  catalogue's models forbid extras), so an inventory that adds an optional field never
  makes the orchestrator dead-letter its machine events.
* A machine's SSH access (``ssh``: :class:`~autorke_common.catalogue.inventory.SshAccess`,
  from its CMDB record: address, port, user, host key, bastion) is kept in the read model
  as the executor's ``Target`` needs it; its bastion, which the catalogue leaves free-form,
  is normalised to the executor's ``SshEndpoint`` fields or a host name alone.
"""
from __future__ import annotations

from typing import Any

from autorke_common.catalogue import Message
from autorke_common.catalogue.inventory import SshAccess
from autorke_common.envelope import Envelope


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


def ssh(access: SshAccess | None) -> dict[str, Any] | None:
    """A machine's SSH access as the read model keeps it (empty values left out); None when
    the event carries none (the read model then keeps what it had)."""
    if access is None:
        return None
    out: dict[str, Any] = {k: v for k, v in access.model_dump(exclude={"bastion"}).items() if v not in (None, "")}
    bastion = _bastion(access.bastion)
    if bastion:
        out["bastion"] = bastion
    return out
