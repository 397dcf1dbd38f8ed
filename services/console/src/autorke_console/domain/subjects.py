"""NATS subject patterns for the event feed: what a browser or CLI may ask for with
``?subject=``, normalised to a pattern under ``autorke.events``, and matched the way the
NATS server matches (``*`` one token, ``>`` the rest), so one shared subscription can be
fanned out to many filtered listeners without asking the server for each."""
from __future__ import annotations

EVENTS_ROOT = "autorke.events"


class BadSubject(ValueError):
    """The filter is not a subject pattern under ``autorke.events``."""


def normalise(pattern: str | None) -> str:
    """``None``/``""`` → everything; ``orchestrator.change.*`` → ``autorke.events.orchestrator.change.*``;
    a full ``autorke.events...`` pattern is kept. Anything else is refused."""
    if not pattern:
        return f"{EVENTS_ROOT}.>"
    pattern = pattern.strip()
    if not pattern.startswith(EVENTS_ROOT + ".") and pattern != EVENTS_ROOT:
        pattern = f"{EVENTS_ROOT}.{pattern}"
    tokens = pattern.split(".")
    for i, token in enumerate(tokens):
        if not token or any(c.isspace() for c in token):
            raise BadSubject(f"empty or blank token in {pattern!r}")
        if token == ">" and i != len(tokens) - 1:
            raise BadSubject(f"'>' must be the last token in {pattern!r}")
        if ("*" in token or ">" in token) and token not in ("*", ">"):
            raise BadSubject(f"wildcards must be whole tokens in {pattern!r}")
    if tokens[:2] != EVENTS_ROOT.split("."):
        raise BadSubject(f"{pattern!r} is not under {EVENTS_ROOT}")
    return pattern


def matches(pattern: str, subject: str) -> bool:
    """True when ``subject`` is matched by ``pattern`` under NATS rules."""
    p = pattern.split(".")
    s = subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s):
            return False
        if token != "*" and token != s[i]:
            return False
    return len(p) == len(s)
