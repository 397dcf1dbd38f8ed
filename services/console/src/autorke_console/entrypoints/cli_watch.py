"""``autorke changes watch ID``: follow a change live. It opens the event stream for the
change first, then reads the change's state, and re-reads it on each of its events, so
nothing that happens in between is missed; it redraws a progress bar per step and the
per-target counts, prints log lines as they arrive, and exits when the change ends
(0 when it succeeded, 1 otherwise)."""
from __future__ import annotations

import json
import sys

from autorke_console.adapters.rest_client import RestClient
from autorke_console.domain.status import TERMINAL_CHANGE
from autorke_console.entrypoints.cli_output import progress_text


def watch(client: RestClient, change_id: str, json_lines: bool = False) -> int:
    last = ""
    tty = sys.stdout.isatty() and not json_lines
    drawn_lines = 0
    change: dict = {}
    for envelope in client.events(correlation_id=change_id):
        if envelope is not None and envelope.get("type") == "executor.target.output" and not json_lines:
            for line in (envelope.get("data") or {}).get("lines", []):
                print(f"  {line.get('host')}| {line.get('line')}")
            drawn_lines = 0
            continue
        if json_lines and envelope is not None:
            print(json.dumps(envelope, separators=(",", ":")), flush=True)
        change = client.call("GET", f"changes/{change_id}")
        text = progress_text(change)
        if text != last and not json_lines:
            if tty and drawn_lines:
                sys.stdout.write(f"\x1b[{drawn_lines}F\x1b[J")
            print(text, flush=True)
            drawn_lines = text.count("\n") + 1
            last = text
        if change.get("status") in TERMINAL_CHANGE:
            break
    return 0 if change.get("status") == "succeeded" else 1
