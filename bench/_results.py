"""Each benchmark owns one section of ``bench/RESULTS.md``, between its
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers; writing it replaces only that
section (or appends it the first time) and leaves every other benchmark's figures alone."""
from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(begin: str, end: str, section: str, results: Path = RESULTS) -> None:
    """``section`` must start with ``begin`` and end with ``end``."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)
