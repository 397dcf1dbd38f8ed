"""How the CLI prints: aligned tables for people, JSON for scripts, and the text progress
bars ``autorke changes watch`` redraws (one per step, plus per-target counts)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autorke_console.domain.change_view import ChangeView


def cell(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(cell(v) for v in value)
    return str(value)


def table(rows: Sequence[dict], columns: Sequence[str], max_width: int = 40) -> str:
    cells = [[cell(_get(r, c))[:max_width] for c in columns] for r in rows]
    widths = [max([len(c.upper())] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _get(row: dict, column: str) -> Any:
    value: Any = row
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def bar(done: int, total: int, width: int = 20) -> str:
    total = max(total, 1)
    filled = round(width * min(done, total) / total)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {done}/{total}"


STEP_DONE = {"succeeded", "failed", "skipped", "cancelled", "rejected", "compensated"}


def plan_text(change: dict) -> str:
    plan = change.get("plan") or {}
    radius = plan.get("blast_radius") or {}
    out = [f"change {change.get('id') or '(dry run)'}  type={change.get('type')}  status={change.get('status')}",
           "steps:"]
    for i, step in enumerate(plan.get("steps") or [], 1):
        out.append(f"  {i:>2}. {step.get('name')}  [{step.get('kind')}]  {step.get('status', '')}")
    out.append("blast radius:")
    out.append(f"  hosts:      {cell(radius.get('hosts'))}")
    out.append(f"  components: {cell(radius.get('components'))}")
    for key, value in radius.items():
        if key not in ("hosts", "components"):
            out.append(f"  {key}: {cell(value)}")
    if plan.get("config_diff"):
        out += ["config diff:", plan["config_diff"]]
    return "\n".join(out)


def progress_text(change: dict) -> str:
    """One line per step with a bar, then per-target counts: what ``watch`` redraws."""
    steps = change.get("steps") or (change.get("plan") or {}).get("steps") or []
    out = [f"{change.get('id')}  {change.get('type')}  status={change.get('status')}"]
    for step in steps:
        targets = step.get("targets") or []
        if isinstance(targets, dict):
            targets = [{"host": h, **(v if isinstance(v, dict) else {"status": v})} for h, v in targets.items()]
        status = step.get("status", "")
        if targets and isinstance(targets[0], dict):
            done = sum(1 for t in targets if t.get("status") in STEP_DONE)
            progress = bar(done, len(targets))
        else:
            progress = bar(1 if status in STEP_DONE else 0, 1)
        out.append(f"  {str(step.get('name'))[:32]:<32} {progress:<28} {status}")
    counts: dict[str, int] = {}
    for result in _results(change):
        counts[str(result.get("status"))] = counts.get(str(result.get("status")), 0) + 1
    if counts:
        out.append("  targets: " + "  ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return "\n".join(out)


def _results(change: dict) -> list[dict]:
    return ChangeView(change, "", set()).results
