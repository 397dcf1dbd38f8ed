"""The envelope and the catalogue: typed round trips, deterministic ids, subjects that
follow the naming rule, versions kept apart, unknown types kept rather than lost."""
from __future__ import annotations

import pytest

from autorke_common.catalogue import Command, Event, UnknownMessage, known_types, parse
from autorke_common.envelope import Envelope


class ThingAdded(Event):
    TYPE = "unittest.thing.added"
    name: str


class ThingAddedV2(Event):
    TYPE = "unittest.thing.added"
    VERSION = 2
    name: str
    size: int


class AddThing(Command):
    TYPE = "unittest.add_thing"
    name: str


def test_subjects_follow_the_naming_rule():
    assert ThingAdded.message_subject() == "autorke.events.unittest.thing.added"
    assert AddThing.message_subject() == "autorke.cmd.unittest.add_thing"
    assert ("unittest.thing.added", 2, "autorke.events.unittest.thing.added") in known_types()


def test_round_trip_and_causation():
    cmd = Envelope.of(AddThing(name="m001"), source="test", correlation_id="chg-1", actor="operator")
    back = Envelope.from_bytes(cmd.to_bytes())
    assert back == cmd and back.parsed() == AddThing(name="m001")
    evt = back.caused(ThingAdded(name="m001"), source="svc")
    assert (evt.correlation_id, evt.causation_id, evt.actor) == ("chg-1", cmd.id, "operator")


def test_deterministic_id_for_resent_commands():
    a = Envelope.of(AddThing(name="x"), source="t", id="chg-1:step-2:1")
    b = Envelope.of(AddThing(name="x"), source="t", id="chg-1:step-2:1")
    assert a.id == b.id == "chg-1:step-2:1"


def test_versions_parse_to_their_own_class_and_unknown_types_are_kept():
    v2 = Envelope.of(ThingAddedV2(name="a", size=3), source="t")
    assert v2.schema_version == 2 and isinstance(v2.parsed(), ThingAddedV2)
    unknown = parse("someone.else.did", 1, {"x": 1})
    assert isinstance(unknown, UnknownMessage) and unknown.model_dump() == {"x": 1}


def test_extra_fields_are_refused():
    with pytest.raises(ValueError):
        AddThing(name="x", surprise=True)


def test_a_type_cannot_be_defined_twice():
    with pytest.raises(TypeError):
        type("Dup", (Event,), {"TYPE": "unittest.thing.added", "__annotations__": {"name": str}})
