"""Who may manage an incident and who may see a private one (PRODUCT.md §5)."""

from __future__ import annotations

import pytest

from bot.domain.errors import AccessDenied
from bot.domain.policy import (
    DEFAULT_POLICY,
    AccessPolicy,
    Grant,
    may_declare,
    may_manage,
    may_see,
    require_may_manage,
)
from tests.domain.factories import incident

ROLE_HOLDERS = {"U_COMMANDER", "U_COMMS"}
MEMBERS = {"U_MEMBER", "U_COMMANDER"}
MANAGERS = {"U_MANAGER"}


def manages(user: str, policy: AccessPolicy = DEFAULT_POLICY) -> bool:
    return may_manage(
        incident(),
        user,
        role_holders=ROLE_HOLDERS,
        channel_members=MEMBERS,
        incident_managers=MANAGERS,
        policy=policy,
    )


@pytest.mark.parametrize("user", ["U_COMMANDER", "U_COMMS", "U_MEMBER", "U_MANAGER"])
def test_role_holders_channel_members_and_incident_managers_may_manage(user: str) -> None:
    assert manages(user)


def test_anyone_else_may_not_manage_and_is_told_who_may() -> None:
    assert not manages("U_STRANGER")
    with pytest.raises(AccessDenied) as denied:
        require_may_manage(
            incident(),
            "U_STRANGER",
            role_holders=ROLE_HOLDERS,
            channel_members=MEMBERS,
            incident_managers=MANAGERS,
            action="close",
        )
    assert denied.value.message == (
        "Only its role holders, its channel members and the incident managers may close #42."
    )


def test_the_policy_can_leave_channel_members_out() -> None:
    policy = AccessPolicy.from_grants(["role_holders", "incident_managers"])
    assert policy.manage == {Grant.ROLE_HOLDERS, Grant.INCIDENT_MANAGERS}
    assert not manages("U_MEMBER", policy)
    assert manages("U_COMMANDER", policy)
    with pytest.raises(AccessDenied, match="Only its role holders and the incident managers may"):
        require_may_manage(
            incident(),
            "U_MEMBER",
            role_holders=ROLE_HOLDERS,
            channel_members=MEMBERS,
            incident_managers=MANAGERS,
            policy=policy,
        )


def test_require_may_manage_lets_an_allowed_user_through() -> None:
    require_may_manage(
        incident(),
        "U_MANAGER",
        role_holders=ROLE_HOLDERS,
        channel_members=MEMBERS,
        incident_managers=MANAGERS,
    )


def sees(user: str, *, private: bool, policy: AccessPolicy = DEFAULT_POLICY) -> bool:
    return may_see(
        incident(private=private),
        user,
        role_holders=ROLE_HOLDERS,
        channel_members=MEMBERS,
        incident_managers=MANAGERS,
        policy=policy,
    )


def test_everyone_sees_a_public_incident() -> None:
    assert sees("U_STRANGER", private=False)


@pytest.mark.parametrize("user", ["U_COMMANDER", "U_COMMS", "U_MEMBER", "U_MANAGER"])
def test_members_and_incident_managers_see_a_private_incident(user: str) -> None:
    assert sees(user, private=True)


def test_the_declarer_sees_a_private_incident_even_without_a_role() -> None:
    assert may_see(
        incident(private=True),
        "U_COMMANDER",
        role_holders=set(),
        channel_members=set(),
        incident_managers=set(),
    )


def test_a_stranger_does_not_see_a_private_incident() -> None:
    assert not sees("U_STRANGER", private=True)


def test_incident_managers_can_be_kept_out_of_private_incidents() -> None:
    policy = AccessPolicy(incident_managers_see_private=False)
    assert not sees("U_MANAGER", private=True, policy=policy)
    assert sees("U_MANAGER", private=False, policy=policy)


def test_anyone_may_declare_unless_declaring_is_restricted() -> None:
    assert may_declare("U_STRANGER")
    restricted = AccessPolicy.from_grants(list(Grant), declarers={"U_ONCALL"})
    assert may_declare("U_ONCALL", policy=restricted)
    assert not may_declare("U_STRANGER", policy=restricted)
