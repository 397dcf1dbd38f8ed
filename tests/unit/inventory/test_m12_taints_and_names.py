"""M12 in the inventory: taints are validated before they are stored (they were stored as
given), and names and labels are matched whole (``re.match(...$)`` let a trailing newline
through)."""
from __future__ import annotations

import pytest

from autorke_common.errors import Invalid
from autorke_inventory.domain.roles import check_labels, check_taints


def test_m12_taints_are_normalised_and_checked():
    assert check_taints([{"key": "dedicated", "value": "gpu"}, {"key": "x", "effect": "NoExecute"}]) == [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, {"key": "x", "value": "", "effect": "NoExecute"}]


@pytest.mark.parametrize("taints", [
    [{"value": "gpu"}], [{"key": "dedicated", "effect": "Maybe"}], [{"key": "a b"}], [{"key": "k", "value": "v\n"}],
    [{"key": "k", "colour": "red"}], ["k=v:NoSchedule"], {"key": "k"},
])
def test_m12_a_bad_taint_is_refused_with_the_field(taints):
    with pytest.raises(Invalid) as refused:
        check_taints(taints)
    assert refused.value.slug == "invalid-request" and refused.value.extensions["field"] == "taints"


@pytest.mark.parametrize("labels", [{"rack": "r1\n"}, {"rack\n": "r1"}])
def test_m12_a_label_with_a_trailing_newline_is_refused(labels):
    with pytest.raises(Invalid):
        check_labels(labels)
