"""Access rules (PRODUCT.md §5): who may manage an incident, who may see a private one.

Anyone in the workspace may declare (unless the configuration restricts declaring to a group).
Managing (updating, changing priority, closing, editing the timeline) is allowed to the incident's
role holders, its channel members and the incident-managers group; which of the three count is
configurable (``AccessPolicy.manage``). Private incidents are visible only to their members (declarer,
role holders, channel members) and, unless configured otherwise, the incident managers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.errors import AccessDenied
from bot.domain.incident import Incident


class Grant(StrEnum):
    """Who a grant lets manage an incident (the keys of the configuration's ``access.manage``)."""

    ROLE_HOLDERS = "role_holders"
    CHANNEL_MEMBERS = "channel_members"
    INCIDENT_MANAGERS = "incident_managers"


_GRANT_WORDS: dict[Grant, str] = {
    Grant.ROLE_HOLDERS: "its role holders",
    Grant.CHANNEL_MEMBERS: "its channel members",
    Grant.INCIDENT_MANAGERS: "the incident managers",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessPolicy:
    manage: frozenset[Grant] = frozenset(Grant)
    incident_managers_see_private: bool = True
    declarers: frozenset[str] | None = None
    """Who may declare (``None``: everyone in the workspace)."""

    @classmethod
    def from_grants(
        cls,
        manage: Collection[str],
        *,
        incident_managers_see_private: bool = True,
        declarers: Collection[str] | None = None,
    ) -> AccessPolicy:
        """From the configuration's plain values (``["role_holders", ...]``)."""
        return cls(
            manage=frozenset(Grant(grant) for grant in manage),
            incident_managers_see_private=incident_managers_see_private,
            declarers=None if declarers is None else frozenset(declarers),
        )


DEFAULT_POLICY = AccessPolicy()


def _granted_by(
    user_id: str,
    *,
    role_holders: Collection[str],
    channel_members: Collection[str],
    incident_managers: Collection[str],
    policy: AccessPolicy,
) -> Grant | None:
    groups = {
        Grant.ROLE_HOLDERS: role_holders,
        Grant.CHANNEL_MEMBERS: channel_members,
        Grant.INCIDENT_MANAGERS: incident_managers,
    }
    for grant in Grant:
        if grant in policy.manage and user_id in groups[grant]:
            return grant
    return None


def may_manage(
    incident: Incident,
    user_id: str,
    *,
    role_holders: Collection[str],
    channel_members: Collection[str],
    incident_managers: Collection[str],
    policy: AccessPolicy = DEFAULT_POLICY,
) -> bool:
    """Whether ``user_id`` may update, re-prioritize, close or edit the timeline of ``incident``."""
    return (
        _granted_by(
            user_id,
            role_holders=role_holders,
            channel_members=channel_members,
            incident_managers=incident_managers,
            policy=policy,
        )
        is not None
    )


def require_may_manage(
    incident: Incident,
    user_id: str,
    *,
    role_holders: Collection[str],
    channel_members: Collection[str],
    incident_managers: Collection[str],
    policy: AccessPolicy = DEFAULT_POLICY,
    action: str = "manage",
) -> None:
    """``may_manage`` or ``AccessDenied`` saying who may (``action``: "close", "update"...)."""
    if may_manage(
        incident,
        user_id,
        role_holders=role_holders,
        channel_members=channel_members,
        incident_managers=incident_managers,
        policy=policy,
    ):
        return
    who = [_GRANT_WORDS[grant] for grant in Grant if grant in policy.manage]
    listed = who[0] if len(who) == 1 else f"{', '.join(who[:-1])} and {who[-1]}"
    raise AccessDenied(f"Only {listed} may {action} {incident.reference}.")


def may_see(
    incident: Incident,
    user_id: str,
    *,
    role_holders: Collection[str],
    channel_members: Collection[str],
    incident_managers: Collection[str],
    policy: AccessPolicy = DEFAULT_POLICY,
) -> bool:
    """Public incidents: everyone. Private ones: the declarer, role holders, channel members and
    (when ``policy.incident_managers_see_private``) the incident managers."""
    if not incident.private:
        return True
    if user_id == incident.created_by or user_id in role_holders or user_id in channel_members:
        return True
    return policy.incident_managers_see_private and user_id in incident_managers


def may_declare(user_id: str, *, policy: AccessPolicy = DEFAULT_POLICY) -> bool:
    """Anyone may declare, unless the configuration restricts declaring to a group."""
    return policy.declarers is None or user_id in policy.declarers
