"""The bus's contract as an AsyncAPI 3.0 document, generated from the catalogue: one
channel per subject, one message per registered (type, version), each message's payload
the envelope it travels in with ``data`` the model's own JSON schema. Who may publish and
subscribe each subject comes from the permission table (:mod:`autorke_common.natsauth`),
so an ops dashboard reading it knows what it will see and who could have sent it.

The console serves it at ``GET /api/v1/asyncapi.json``; ``autorke asyncapi`` prints it.
Nothing is written by hand: a new message class appears here when its module is imported.
"""
from __future__ import annotations

import importlib
import json
from typing import Any

from autorke_common.catalogue import _REGISTRY, COMMANDS_PREFIX, Message
from autorke_common.envelope import Envelope
from autorke_common.natsauth import USERS, may_publish, may_subscribe, subject_matches

#: the catalogue's modules: importing them registers every message
MODULES = ("bus", "executor", "inventory", "netcfg", "orchestrator")
SCHEMAS = "#/components/schemas/"


def messages() -> dict[tuple[str, int], type[Message]]:
    """Every message class of the catalogue by (type, version) (not one a test defined)."""
    for name in MODULES:
        importlib.import_module(f"autorke_common.catalogue.{name}")
    return {key: cls for key, cls in sorted(_REGISTRY.items()) if cls.__module__.startswith(f"{__package__}.")}


def message_id(type_: str, version: int) -> str:
    return f"{type_}.v{version}"


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else cls.__name__


def _data_schema(cls: type[Message], mid: str, schemas: dict[str, Any]) -> dict:
    """The model's JSON schema, its nested definitions hoisted into ``schemas`` under names
    of this message's own (two messages' ``Target`` never collide)."""
    schema = cls.model_json_schema(ref_template=f"{SCHEMAS}{mid}.{{model}}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[f"{mid}.{name}"] = sub
    schemas[mid] = schema
    return {"$ref": f"{SCHEMAS}{mid}"}


def _envelope(type_: str, version: int, subject: str, data: dict) -> dict:
    schema = Envelope.model_json_schema()
    schema.pop("title", None)
    props = schema["properties"]
    props["type"] = {"const": type_, "type": "string"}
    props["subject"] = {"const": subject, "type": "string"}
    props["schema_version"] = {"const": version, "type": "integer"}
    props["data"] = data
    schema["required"] = sorted({*schema.get("required", []), "data", "schema_version"})
    return schema


def document(server_url: str | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event and command."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    components: dict[str, Any] = {"messages": {}, "schemas": {}}
    for (type_, version), cls in messages().items():
        subject = cls.message_subject()
        mid = message_id(type_, version)
        components["messages"][mid] = {
            "name": type_, "title": f"{type_} v{version}", "summary": _summary(cls),
            "contentType": "application/json",
            "payload": _envelope(type_, version, subject, _data_schema(cls, mid, components["schemas"])),
        }
        channel = channels.setdefault(type_, {
            "address": subject, "messages": {},
            "description": ("a command (JetStream stream AUTORKE_COMMANDS, work queue)" if subject.startswith(
                COMMANDS_PREFIX) else "an event (JetStream stream AUTORKE_EVENTS)"),
            "x-autorke-publishers": [u for u in USERS if may_publish(u, subject)],
            # a core subscription, or a durable consumer whose filter takes the subject
            "x-autorke-subscribers": [u for u in USERS if may_subscribe(u, subject) or any(
                subject_matches(d.filter_subject, subject) for d in USERS[u].durables)],
        })
        channel["messages"][mid] = {"$ref": f"#/components/messages/{mid}"}
    for type_, channel in channels.items():
        operations[f"receive.{type_}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{type_}"},
            "messages": [{"$ref": f"#/channels/{type_}/messages/{mid}"} for mid in channel["messages"]],
        }
    doc: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "AutoRKE bus", "version": "1",
            "description": "Every event and command on the AutoRKE NATS JetStream bus, generated from the "
                           "catalogue. Events: autorke.events.<service>.<entity>.<verb>; commands: "
                           "autorke.cmd.<service>.<verb>. Every message is a JSON envelope whose data is "
                           "the message's model. Connecting needs a bus user's nkey; ops dashboards use the "
                           "read-only 'dashboards' user, which may subscribe autorke.events.> only.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": components,
    }
    if server_url:
        host = server_url.split("://", 1)[-1]
        doc["servers"] = {"autorke": {"host": host, "protocol": "nats",
                                      "description": "nkey authentication (see the README's security section)"}}
    return doc


def register(subparsers) -> None:
    p = subparsers.add_parser("asyncapi", help="print the bus's AsyncAPI document (every event and command)")
    p.add_argument("--server", help="the NATS URL to name in the document")
    p.set_defaults(func=lambda args: print(json.dumps(document(args.server), indent=2)) or 0)
