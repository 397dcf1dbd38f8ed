"""Reading YAML an operator gave us (an imported cluster.yml, the kubeconfig inside an
rkestate, a stored config version being redacted) without letting the document cost more
than its size.

``yaml.safe_load`` builds no objects of its own choosing, but it does honour anchors and
aliases: a few hundred bytes of nested aliases (the "billion laughs") describe a document
that is linear in memory yet exponential to walk, and every consumer that walks it as a
tree (redaction, rendering, a diff) blows up. None of our documents needs an alias, so
:func:`load` refuses any anchor or alias, and any nesting deeper than :data:`MAX_DEPTH`
(a deep ``[[[[...`` would otherwise exhaust the recursion of the parser), with
:class:`UnsafeYaml`, a :class:`yaml.YAMLError`, so callers' existing handling of YAML that
does not parse covers it.
"""
from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64


class UnsafeYaml(yaml.YAMLError):
    """The document uses an anchor or alias, or nests deeper than :data:`MAX_DEPTH`."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        super().__init__(f"{problem}{where}")
        self.problem = problem


class _Loader(yaml.SafeLoader):
    """``SafeLoader`` that refuses anchors and aliases and bounds the nesting."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYaml("YAML aliases are not accepted", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise UnsafeYaml("YAML anchors are not accepted", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise UnsafeYaml(f"the document nests deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(text: str | bytes) -> Any:
    """The one document in ``text``, as ``yaml.safe_load`` would give it; :class:`UnsafeYaml`
    for an anchor, an alias or too deep a nesting, :class:`yaml.YAMLError` for the rest."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
