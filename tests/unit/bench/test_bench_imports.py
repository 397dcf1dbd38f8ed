"""Every benchmark still imports what it measures: a renamed module or function in a
service breaks ``make bench`` long before anyone runs it, so the suite loads each script
(without running it: their work is under ``if __name__ == "__main__"``)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("[a-z]*.py")))
def test_the_benchmark_loads(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__, f"{script} says what it measures"
    sys.modules.pop(f"bench_{script[:-3]}", None)
