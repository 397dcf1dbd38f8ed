"""M12 in the executor: an RKE2 join's labels and taints are checked whole before anything
runs (a taint without ``effect`` was a KeyError mid-job), and an environment name with a
trailing newline is no name (``re.match(...$)`` accepted ``"FOO\\n"``)."""
from __future__ import annotations

import pytest

from autorke_common.catalogue.executor import ExecutorRun
from autorke_executor.domain.model import InvalidJob, validate
from autorke_executor.domain.script_command import UnsafeParameter, script_command


def join(**params) -> ExecutorRun:
    return ExecutorRun(job_id="j", kind="rke2", action="join", fence=["m1"],
                       targets=[{"host": "m1", "address": "10.0.0.1", "host_key": "ssh-ed25519 AAAA"}],
                       params={"server": "https://10.0.0.2:9345", **params}, secrets={"token": "sealed"})


@pytest.mark.parametrize("taints", [
    [{"key": "dedicated", "value": "gpu"}],                       # no effect: the KeyError of the review
    [{"key": "dedicated", "effect": "Sometimes"}],
    [{"value": "gpu", "effect": "NoSchedule"}],
    [{"key": "a=b:NoExecute,c", "effect": "NoSchedule"}],         # would split into another taint
    [{"key": "dedicated", "value": "gpu\n", "effect": "NoSchedule"}],
    [{"key": "dedicated", "effect": "NoSchedule", "extra": 1}],
    ["dedicated=gpu:NoSchedule"],
    {"key": "dedicated"},
])
def test_m12_an_rke2_join_with_a_bad_taint_is_refused_before_it_runs(taints):
    with pytest.raises(InvalidJob, match="taint"):
        validate(join(taints=taints))


@pytest.mark.parametrize("labels", [{"rack": "r1\n"}, {"a=b,c": "d"}, {"rack\n": "r1"}, ["rack=r1"], {"rack": 7}])
def test_m12_an_rke2_join_with_a_bad_label_is_refused(labels):
    with pytest.raises(InvalidJob, match="labels"):
        validate(join(labels=labels))


def test_m12_good_labels_and_taints_pass():
    validate(join(labels={"example.com/rack": "r1", "gpu": ""},
                  taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                          {"key": "node.kubernetes.io/maint", "effect": "NoExecute"}]))


def test_m12_an_environment_name_with_a_trailing_newline_is_refused():
    with pytest.raises(UnsafeParameter):
        script_command("init", "j", env={"FOO\n": "x"})
    assert "FOO=x" in script_command("init", "j", env={"FOO": "x"})
