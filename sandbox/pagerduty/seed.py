"""A sandbox PagerDuty account shaped like a catalog's ``pagerduty`` section: every configured
service under the id the catalog gives it (``PPAY001``…), with an escalation policy under the
catalog's ``escalation_policy_id`` when it names one, and whoever the caller puts on call at each
level (a schedule per level, shifts open since yesterday). Used by the app tests and the demo, so
that the example catalog works against the sandbox as it is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TypeVar

from bot.config import Catalog
from sandbox.pagerduty.server import SandboxPagerDuty
from sandbox.pagerduty.state import EscalationPolicy, Schedule, Service, User


def add_people(pd: SandboxPagerDuty, people: Iterable[tuple[str, str]]) -> dict[str, User]:
    """PagerDuty users from (name, e-mail) pairs, by e-mail (an existing e-mail is reused)."""
    found: dict[str, User] = {}
    for name, email in people:
        found[email] = pd.user_by_email(email) or pd.add_user(name, email=email)
    return found


def seed_account(
    pd: SandboxPagerDuty,
    catalog: Catalog,
    on_call: Mapping[str, Sequence[Sequence[User]]],
) -> dict[str, Service]:
    """Every service of ``catalog.pagerduty.services``, by key. ``on_call[key]`` lists, per
    escalation level (from 1), who is on call now; a service without an entry has one level whose
    schedule has nobody on call."""
    services: dict[str, Service] = {}
    policies: dict[str, EscalationPolicy] = {}
    for configured in catalog.pagerduty.services:
        name = configured.name or configured.key
        levels = on_call.get(configured.key) or [[]]
        policy = policies.get(configured.escalation_policy_id or "")
        if policy is None:
            schedules: list[Sequence[User | Schedule]] = [
                [_schedule(pd, f"{name} level {index}", people)]
                for index, people in enumerate(levels, start=1)
            ]
            policy = pd.add_escalation_policy(f"{name} on-call", schedules)
            if configured.escalation_policy_id:
                _rekey(pd.escalation_policies, policy, configured.escalation_policy_id)
                policies[policy.id] = policy
        service = pd.add_service(name, policy)
        _rekey(pd.services, service, configured.service_id)
        services[configured.key] = service
    return services


def _schedule(pd: SandboxPagerDuty, name: str, people: Sequence[User]) -> Schedule:
    return pd.add_schedule(name, on_call=list(people), start=pd.now() - timedelta(days=1))


_Item = TypeVar("_Item", Service, EscalationPolicy)


def _rekey(table: dict[str, _Item], item: _Item, wanted: str) -> None:
    """Give a freshly added service or policy the id the catalog names (nothing refers to it
    yet: a policy is re-keyed before its service is added, a service before any incident)."""
    table.pop(item.id)
    item.id = wanted
    table[wanted] = item
