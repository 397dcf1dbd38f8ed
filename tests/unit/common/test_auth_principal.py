"""Who a verified token is (M2): ``<iss>#<sub>``, the one claim pair an IdP never lets a user
change or share; the display names travel beside it and decide nothing; the platform's own
names cannot be claimed."""
from __future__ import annotations

import pytest

from autorke_common.auth import DEV_PRINCIPAL, MAX_SUBJECT_CHARS, SYSTEM, principal_of
from autorke_common.errors import Problem

ISS = "https://idp.example.com/realms/autorke"


def claims(**over):
    return {"iss": ISS, "sub": "3f2c-alice", "preferred_username": "alice", "name": "Alice A.",
            "roles": ["operator", "viewer", "root"], **over}


def test_m2_identity_is_issuer_and_subject_and_names_are_for_display():
    p = principal_of(claims())
    assert p.subject == f"{ISS}#3f2c-alice"
    assert (p.username, p.name, p.display) == ("alice", "Alice A.", "Alice A.")
    assert p.roles == frozenset({"operator", "viewer"})          # unknown roles are dropped
    renamed = principal_of(claims(preferred_username="alice2", name="Alice B."))
    assert renamed.subject == p.subject
    namesake = principal_of(claims(sub="9d1e-other"))             # same display names, another user
    assert namesake.subject != p.subject
    sub_lookalike = principal_of(claims(sub="bob", preferred_username="3f2c-alice"))
    assert sub_lookalike.subject != p.subject


@pytest.mark.parametrize("over", [{"sub": "system"}, {"sub": "System "}, {"preferred_username": "SYSTEM"},
                                  {"name": "system"}, {"sub": "dev"}, {"preferred_username": "dev"}])
def test_m2_the_platforms_own_names_are_refused(over):
    with pytest.raises(Problem) as caught:
        principal_of(claims(**over))
    assert caught.value.status == 401 and caught.value.slug == "unauthenticated"


@pytest.mark.parametrize("sub", ["", "   ", "a\nb", "tab\there", "x" * MAX_SUBJECT_CHARS, 7, None])
def test_m2_a_subject_no_service_can_record_is_refused(sub):
    with pytest.raises(Problem) as caught:
        principal_of(claims(sub=sub))
    assert caught.value.status == 401


def test_m2_no_principal_is_the_system():
    assert principal_of(claims()).subject != SYSTEM
    assert DEV_PRINCIPAL.subject == "dev" and DEV_PRINCIPAL.subject != SYSTEM
    assert principal_of(claims(roles="admin")).roles == frozenset()   # not a list: no roles
