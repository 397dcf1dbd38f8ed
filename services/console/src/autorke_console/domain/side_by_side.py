"""A side-by-side view of two config versions for the Clusters page: rows of
(left line, right line, kind) from difflib, so a reviewer sees both versions aligned
with removed and added lines marked, as in a code review."""
from __future__ import annotations

import difflib


def side_by_side(left: str, right: str) -> list[tuple[str, str, str]]:
    """Rows ``(left, right, kind)``; kind is ``same``, ``changed``, ``removed`` or ``added``."""
    a, b = left.splitlines(), right.splitlines()
    rows: list[tuple[str, str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows.extend((x, y, "same") for x, y in zip(a[i1:i2], b[j1:j2], strict=True))
        elif tag == "delete":
            rows.extend((x, "", "removed") for x in a[i1:i2])
        elif tag == "insert":
            rows.extend(("", y, "added") for y in b[j1:j2])
        else:
            old, new = a[i1:i2], b[j1:j2]
            for k in range(max(len(old), len(new))):
                rows.append((old[k] if k < len(old) else "", new[k] if k < len(new) else "", "changed"))
    return rows
