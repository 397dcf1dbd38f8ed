"""C2: the AsyncAPI document is the catalogue's: every registered (type, version) has a
channel at its subject and a message whose envelope's ``data`` is exactly the model's JSON
schema, and each channel names who may publish it as the permission table says."""
from __future__ import annotations

import json

from autorke_common.catalogue import _REGISTRY, known_types
from autorke_common.catalogue.asyncapi import document, message_id, messages
from autorke_common.natsauth import may_publish


def parse_class(type_: str, version: int):
    return _REGISTRY[(type_, version)]


def inline(schema, lookup, depth: int = 0):
    """The schema with every ``$ref`` replaced by what it points at (``lookup(ref)``)."""
    assert depth < 30, "a reference cycle"
    if isinstance(schema, dict):
        if set(schema) == {"$ref"}:
            return inline(lookup(schema["$ref"]), lookup, depth + 1)
        return {k: inline(v, lookup, depth + 1) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [inline(v, lookup, depth + 1) for v in schema]
    return schema


def test_c2_every_registered_message_has_a_channel_and_its_models_schema():
    doc = document()
    json.dumps(doc)  # serialisable as it is served
    assert doc["asyncapi"].startswith("3.")
    catalogue = {(t, v) for t, v, _ in known_types()
                 if parse_class(t, v).__module__.startswith("autorke_common.catalogue.")}
    assert len(catalogue) == len(messages()) == len(doc["components"]["messages"]) > 50
    schemas = doc["components"]["schemas"]

    def in_doc(ref: str):
        assert ref.startswith("#/components/schemas/"), ref
        return schemas[ref.removeprefix("#/components/schemas/")]

    for (type_, version), cls in messages().items():
        mid = message_id(type_, version)
        channel = doc["channels"][type_]
        assert channel["address"] == cls.message_subject()
        assert channel["messages"][mid] == {"$ref": f"#/components/messages/{mid}"}
        payload = doc["components"]["messages"][mid]["payload"]
        assert payload["properties"]["type"]["const"] == type_
        assert payload["properties"]["schema_version"]["const"] == version
        assert payload["properties"]["subject"]["const"] == cls.message_subject()
        model = cls.model_json_schema()
        defs = model.get("$defs", {})
        expected = inline(model, lambda ref, defs=defs: defs[ref.removeprefix("#/$defs/")])
        assert inline(payload["properties"]["data"], in_doc) == expected, mid
        publishers = channel["x-autorke-publishers"]
        assert publishers and all(may_publish(u, cls.message_subject()) for u in publishers)
    assert catalogue == set(messages())
    for op in doc["operations"].values():
        assert op["channel"]["$ref"].removeprefix("#/channels/") in doc["channels"]


def test_c2_the_document_says_who_publishes_executor_messages():
    channels = document()["channels"]
    assert channels["executor.run"]["x-autorke-publishers"] == ["inventory", "orchestrator"]
    assert channels["executor.run"]["x-autorke-subscribers"] == ["executor"]
    assert channels["executor.job.finished"]["x-autorke-publishers"] == ["executor"]
    assert "dashboards" in channels["executor.job.finished"]["x-autorke-subscribers"]
    assert "dashboards" not in channels["executor.run"]["x-autorke-subscribers"]
