"""``config.import``: an existing cluster's cluster.yml and/or cluster.rkestate, and its
nodes placed as members where they match inventory machines. An rkestate needs an admin's
approval (it holds every certificate and key of the cluster). See :mod:`.config_change`."""
from __future__ import annotations

from autorke_orchestrator.domain.flows.config_change import flow

FLOW = flow("config.import", "the import", [
    "the imported nodes that match inventory machines become members of the cluster when it is adopted"])
