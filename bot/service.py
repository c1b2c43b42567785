"""IncidentService: the only way state is read for and changed by Slack, jobs and syncs.

Today it serves the read side (App Home, lists); the lifecycle (declare, update, close…) is added here
so that every entry point goes through the same rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.blocks.home import HomePage, PriorityStyle
from bot.config import Catalog
from bot.domain.incident import Incident, Priority
from bot.domain.policy import may_see
from bot.ports import Clock
from storage.repository import IncidentRepository, RoleRepository

HOME_OPEN_LIMIT = 60
HOME_CLOSED_LIMIT = 5
COMMANDER = "commander"


class IncidentFilter(StrEnum):
    OPEN = "open"
    MINE = "mine"
    CLOSED = "closed"


@dataclass
class IncidentService:
    catalog: Catalog
    clock: Clock
    incidents: IncidentRepository = field(default_factory=IncidentRepository)
    roles: RoleRepository = field(default_factory=RoleRepository)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.catalog.reminders.timezone)

    @property
    def priority_styles(self) -> dict[Priority, PriorityStyle]:
        return {
            Priority.parse(p.key): PriorityStyle(emoji=p.emoji, name=p.name)
            for p in self.catalog.priorities
        }

    async def home_page(self, user_id: str) -> HomePage:
        """The App Home content for ``user_id``, private incidents filtered out unless a member."""
        mine = await self.incidents.list_for_user(user_id, open_only=True)
        member_of = {incident.id for incident in mine}
        visible_open = self._visible(
            await self.incidents.list_open(limit=HOME_OPEN_LIMIT), user_id, member_of
        )
        closed = await self.incidents.list_for_user(user_id, open_only=False)
        member_of |= {incident.id for incident in closed}
        visible_closed = self._visible(
            await self.incidents.list_recent_closed(limit=HOME_CLOSED_LIMIT * 4), user_id, member_of
        )[:HOME_CLOSED_LIMIT]
        commanders: dict[int, str] = {}
        for incident in {i.id: i for i in [*mine, *visible_open]}.values():
            holder = await self.roles.holder(incident.id, COMMANDER)
            if holder is not None:
                commanders[incident.id] = holder.user_id
        roles_of_viewer: dict[int, list[str]] = {}
        for assignment in await self.roles.list_for_user(user_id):
            roles_of_viewer.setdefault(assignment.incident_id, []).append(
                self._role_name(assignment.role)
            )
        return HomePage(
            viewer_id=user_id,
            mine=mine,
            open=visible_open,
            recently_closed=visible_closed,
            commanders=commanders,
            roles_of_viewer=roles_of_viewer,
        )

    async def list_incidents(self, user_id: str, which: IncidentFilter) -> list[Incident]:
        """``/incident list [open|mine|closed]`` for ``user_id``, access rules applied."""
        mine_all = await self.incidents.list_for_user(user_id, open_only=False)
        member_of = {incident.id for incident in mine_all}
        if which is IncidentFilter.MINE:
            return [incident for incident in mine_all if incident.is_open]
        if which is IncidentFilter.CLOSED:
            closed = await self.incidents.list_recent_closed(limit=20)
            return self._visible(closed, user_id, member_of)
        return self._visible(await self.incidents.list_open(limit=50), user_id, member_of)

    @staticmethod
    def _visible(incidents: list[Incident], user_id: str, member_of: set[int]) -> list[Incident]:
        """The access rule of PRODUCT.md §5 (``policy.may_see``), with the user's memberships
        (declared, role, present channel member) already looked up as ``member_of``."""
        return [
            incident
            for incident in incidents
            if may_see(
                incident,
                user_id,
                role_holders=(),
                channel_members=(user_id,) if incident.id in member_of else (),
                incident_managers=(),
            )
        ]

    def _role_name(self, key: str) -> str:
        try:
            return self.catalog.role(key).name
        except KeyError:
            return key
