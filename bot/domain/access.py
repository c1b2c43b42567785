"""Who may see what (PRODUCT.md §5): private incidents are visible only to their members."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.incident import Incident


def visible_to(incident: Incident, member_of: set[int]) -> bool:
    """A public incident is visible to everyone; a private one only to its members (declarer, role
    holders, present channel members: the ids in ``member_of``)."""
    return not incident.private or incident.id in member_of


def only_visible(incidents: Iterable[Incident], member_of: set[int]) -> list[Incident]:
    return [incident for incident in incidents if visible_to(incident, member_of)]
