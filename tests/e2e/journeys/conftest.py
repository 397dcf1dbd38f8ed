"""One running platform for every journey (issue 14, item 1): ``autorke up`` with the lab
(:mod:`fixtures.platform`: what a journey drives and where it reads outcomes).

Journeys take free machines with ``platform.claim(n)``: each goes to one journey only, so
no journey depends on another's order.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.platform import CLUSTERS, SERVICES, Platform, problem, up_platform  # noqa: F401 - for the journeys
from fixtures.waiting import ready, wait  # noqa: F401 - the journeys import them from here

from ..ports import free_offset

#: rke1-lab and rke2-lab take six machines each (m001-m012); the rest are free to claim.
MACHINES = 30
#: a ticket whose callback never comes fails within a journey's time (the lab VCalico
#: answers within a second when it answers at all)
SETTINGS = {"AUTORKE_VCALICO_CALLBACK_TIMEOUT_S": "45", "AUTORKE_CALLBACK_TIMEOUT_CHECK_INTERVAL_S": "3"}


@pytest.fixture(scope="package")
def platform(tmp_path_factory) -> Iterator[Platform]:
    with up_platform("journeys", tmp_path_factory.mktemp("journeys"), MACHINES, free_offset=free_offset,
                     settings=SETTINGS) as running:
        yield running


@pytest.fixture
def clean_logs(platform: Platform) -> Platform:
    """The platform with every machine's command log emptied: what a journey finds in a
    log was sent during the journey."""
    platform.clear_command_logs()
    return platform
