"""``config.update``: new cluster options (checked by the inventory's schema when proposed),
and the cluster.yml rendered with them. See :mod:`.config_change`."""
from __future__ import annotations

from autorke_orchestrator.domain.flows.config_change import flow

FLOW = flow("config.update", "the options change")
