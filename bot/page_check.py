"""``firefighter check`` for PagerDuty: does the catalog's ``pagerduty`` section match the account?

Each configured service and escalation policy is looked up in PagerDuty (who is on call for it:
read-only), and the ``From`` address the bot writes with must be a PagerDuty user (PagerDuty
refuses every page otherwise). Mismatches are reported at their place in the catalog (field path,
then file and line via ``bot.config.locate_problems``), so a wrong service id is found before an
incident needs the page, not during one.
"""

from __future__ import annotations

from bot.config import Catalog, Loc
from bot.ports import Pager, PagerError


async def pagerduty_problems(
    catalog: Catalog, pager: Pager, *, from_email: str
) -> list[tuple[Loc, str]]:
    """Mismatches between the catalog and the PagerDuty account, by catalog field path."""
    try:
        bot_user = await pager.user_by_email(from_email)
    except PagerError as error:
        return [(("pagerduty",), f"cannot use PagerDuty with these credentials: {error}")]
    problems: list[tuple[Loc, str]] = []
    if bot_user is None:
        problems.append(
            (
                ("pagerduty",),
                f"PAGERDUTY_FROM_EMAIL {from_email} is not a PagerDuty user: PagerDuty refuses "
                "pages sent in its name",
            )
        )
    for index, service in enumerate(catalog.pagerduty.services):
        where: Loc = ("pagerduty", "services", index)
        try:
            await pager.on_call(service_id=service.service_id)
        except PagerError as error:
            if error.code == "unknown_service":
                problems.append(
                    (
                        (*where, "service_id"),
                        f"PagerDuty has no service {service.service_id} "
                        "(or the API key cannot see it)",
                    )
                )
            else:
                problems.append(((*where, "service_id"), f"PagerDuty refused: {error}"))
            continue
        if service.escalation_policy_id:
            try:
                await pager.on_call(escalation_policy_id=service.escalation_policy_id)
            except PagerError as error:
                if error.code == "not_found":
                    message = f"PagerDuty has no escalation policy {service.escalation_policy_id}"
                else:
                    message = f"PagerDuty refused: {error}"
                problems.append(((*where, "escalation_policy_id"), message))
    return problems
