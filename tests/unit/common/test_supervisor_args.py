"""``autorke up``'s database flags: a schema prefix is a plain identifier start, so it can
go into each service's ``search_path`` unquoted."""
from __future__ import annotations

import argparse

import pytest

from autorke_common.supervisor import register


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["up", *argv])


def test_schema_prefix_is_accepted_and_defaults_to_none():
    assert parse().db_schema_prefix == ""
    assert parse("--database-url", "postgresql://x/y", "--db-schema-prefix", "ci_1a_").db_schema_prefix == "ci_1a_"


@pytest.mark.parametrize("bad", ["Ci", "a-b", "a;drop", "x" * 42, "1a"])
def test_schema_prefix_outside_identifiers_is_refused(bad, capsys):
    with pytest.raises(SystemExit):
        parse("--db-schema-prefix", bad)
    assert "--db-schema-prefix" in capsys.readouterr().err
