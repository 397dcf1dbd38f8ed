"""The gateway's routing table and the event feed's subject filters."""
from __future__ import annotations

from urllib.parse import unquote

import pytest

from autorke_console.domain.routes import (
    UnforwardablePath,
    forwarded_path,
    forwarded_query,
    path_to_send,
    route_for,
)
from autorke_console.domain.subjects import BadSubject, matches, normalise


@pytest.mark.parametrize(("path", "service"), [
    ("machines", "inventory"), ("machines:sync", "inventory"), ("machines/m001", "inventory"),
    ("clusters", "inventory"), ("clusters/lab/nodes", "inventory"),
    ("clusters/lab/configs/cluster.yml:diff", "inventory"),
    ("clusters/lab/ippools", "netcfg"), ("clusters/lab/ippools/p1:enable", "netcfg"),
    ("changes", "orchestrator"), ("changes/c1:retry", "orchestrator"), ("changes/c1/approvals", "orchestrator"),
    ("tickets", "netcfg"), ("tickets/t1:confirm", "netcfg"), ("webhooks/vcalico", "netcfg"),
    ("jobs/j1", "executor"),
])
def test_each_path_goes_to_its_owner(path, service):
    assert route_for(path).service == service


def test_only_the_webhook_skips_the_token_check():
    assert route_for("webhooks/vcalico").needs_token is False
    assert all(route_for(p).needs_token for p in ("machines", "changes", "tickets", "jobs/x"))


def test_unknown_paths_have_no_owner():
    assert route_for("") is None and route_for("secrets") is None and route_for("events2") is None


def test_subject_filters_are_normalised_under_autorke_events():
    assert normalise(None) == "autorke.events.>"
    assert normalise("orchestrator.change.*") == "autorke.events.orchestrator.change.*"
    assert normalise("autorke.events.netcfg.>") == "autorke.events.netcfg.>"
    for bad in ("a.>.b", "a..b", "a.b*", "a b"):
        with pytest.raises(BadSubject):
            normalise(bad)


def test_matching_follows_nats_rules():
    assert matches("autorke.events.>", "autorke.events.orchestrator.change.created")
    assert matches("autorke.events.*.change.*", "autorke.events.orchestrator.change.created")
    assert not matches("autorke.events.*.change", "autorke.events.orchestrator.change.created")
    assert not matches("autorke.events.executor.>", "autorke.events.executor")
    assert matches("autorke.events.executor.job.started", "autorke.events.executor.job.started")


def test_gateway_control_character_in_a_path_parameter_is_sent_on_percent_encoded():
    sent = forwarded_path(b"machines/m%00%0A%7F%C3%A9:sync")
    assert sent.segments == ("machines", "m\x00\n\x7fé:sync")
    assert sent.wire == "machines/m%00%0A%7F%C3%A9:sync"
    assert forwarded_path(b"machines/a%2Fb").wire == "machines/a%2Fb", "an encoded slash stays one segment"
    assert forwarded_path(b"machines/a b\x01").wire == "machines/a%20b%01"
    assert path_to_send("machines/a%41").wire == "machines/a%2541", "a page's id is already decoded"
    assert forwarded_query(b"q=a%01b&c=d e\xff") == "q=a%01b&c=d%20e%FF"


@pytest.mark.parametrize("raw", [b"webhooks/../clusters/x", b"webhooks/%2e%2e/clusters/x", b"x/.%2E",
                                 b"clusters/lab/./ippools", b"machines/%2E", b".."])
def test_l1_dot_segments_are_never_forwarded(raw):
    with pytest.raises(UnforwardablePath):
        forwarded_path(raw)
    with pytest.raises(UnforwardablePath):
        path_to_send(unquote(raw.decode()))


def test_dots_inside_a_segment_are_a_name_not_a_climb():
    assert forwarded_path(b"clusters/lab/configs/cluster.yml:diff").wire == "clusters/lab/configs/cluster.yml:diff"
    assert forwarded_path(b"machines/...").segments == ("machines", "...")
