"""H3: an order's budget (its deadline before the grace) follows what the job will do:
the command timeout once per wave of targets the executor runs at once; one rke run and
one inventory or netcfg command take their own timeout."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import Job
from autorke_orchestrator.domain.orders import EXECUTOR_CONCURRENCY, Order


def order(job: Job) -> Order:
    return Order("c:s:1", "c", "s", "run", 1, job)


def test_a_wave_of_targets_takes_one_command_timeout():
    hosts = tuple(f"m{i:03d}" for i in range(EXECUTOR_CONCURRENCY))
    assert order(Job("script", "init", hosts, timeout_s=600)).budget_s == 600
    assert order(Job("script", "init", (*hosts, "m999"), timeout_s=600)).budget_s == 1200
    assert order(Job("script", "probe", (), timeout_s=60)).budget_s == 60


def test_an_rke_run_and_a_service_command_take_their_own_timeout():
    hosts = tuple(f"m{i:03d}" for i in range(200))
    assert order(Job("rke", "up", hosts, timeout_s=1800)).budget_s == 1800
    assert order(Job("inventory", "inventory.machine.transition", hosts, service="inventory",
                     timeout_s=300)).budget_s == 300
