"""What of an event a caller sees on the live stream (``GET /api/v1/events``).

Every event of ``autorke.events.>`` reaches the console, and a viewer may watch them; what
a viewer must not read is taken out of the envelope before it is streamed, and the
envelope says what was taken out (``redacted``: the paths under ``data``):

* sealed secrets (any ``*_sealed`` field, and the sealed ``rkestate``/``kubeconfig`` an rke
  run returns in ``executor.target.finished``): opaque without the platform's key, but kept
  for days on the stream they could be attacked offline (review M6) and no page needs them;
* a dead letter's ``payload``: the raw message given up on, which may be a command with
  its targets, parameters and sealed secrets — the consumer, subject and error stay;
* script output (``executor.target.output`` lines, ``executor.target.finished`` output):
  what a script prints can hold anything the machine holds. It is shown to operators —
  they run the changes that produce it and follow it live on the change page and in
  ``autorke watch`` — and to admins; a viewer or an approver without the operator role
  still gets the event (the page refreshes on it), without the text.

An admin sees every event whole. Facts, change parameters and results other than these
stay: a viewer reads the same through the REST API.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEAD_LETTERED = "bus.message.dead_lettered"
TARGET_OUTPUT = "executor.target.output"
TARGET_FINISHED = "executor.target.finished"
#: Who may read script output besides admins (one place to change that decision).
SCRIPT_OUTPUT_ROLE = "operator"
#: Results of ``executor.target.finished`` that are sealed secrets.
SEALED_RESULTS = ("rkestate", "kubeconfig")


def visible_event(envelope: dict[str, Any], may: Callable[[str], bool]) -> dict[str, Any]:
    """``envelope`` as a caller with roles ``may`` (``Principal.has``) sees it: the same
    object when nothing is hidden, else a copy without the hidden fields and with
    ``redacted`` listing them."""
    data = envelope.get("data")
    if may("admin") or not isinstance(data, dict):
        return envelope
    kind = envelope.get("type")
    hidden: list[str] = []
    shown = _without_sealed(data, "", hidden)
    if kind == DEAD_LETTERED:
        _drop(shown, "payload", hidden)
    if kind == TARGET_FINISHED and isinstance(shown.get("result"), dict):
        result = shown["result"] = dict(shown["result"])
        for key in SEALED_RESULTS:
            _drop(result, key, hidden, "result.")
    if kind in (TARGET_OUTPUT, TARGET_FINISHED) and not may(SCRIPT_OUTPUT_ROLE):
        _drop(shown, "lines" if kind == TARGET_OUTPUT else "output", hidden)
    if not hidden:
        return envelope
    return {**envelope, "data": shown, "redacted": hidden}


def _drop(data: dict[str, Any], key: str, hidden: list[str], prefix: str = "") -> None:
    if key in data:
        del data[key]
        hidden.append(prefix + key)


def _without_sealed(value: dict[str, Any], prefix: str, hidden: list[str]) -> dict[str, Any]:
    """A copy of ``value`` without ``*_sealed`` keys, at any depth of nested objects."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if str(key).endswith("_sealed"):
            hidden.append(prefix + str(key))
        elif isinstance(item, dict):
            out[key] = _without_sealed(item, f"{prefix}{key}.", hidden)
        else:
            out[key] = item
    return out
