"""``config.rollback``: an older version of one kind of config becomes current again (as a
new version). An rkestate or kubeconfig rollback needs an admin. See :mod:`.config_change`."""
from __future__ import annotations

from autorke_orchestrator.domain.flows.config_change import flow

FLOW = flow("config.rollback", "the rollback")
