"""``firefighter check`` for Jira: does the catalog's Jira section match the Jira site?

Every project, issue type, status, priority and field id the catalog names is looked up in Jira
(a handful of read-only calls); each mismatch is reported at its place in the catalog (field path,
then file and line via ``bot.config.locate_problems``), so a typo is found before an incident needs
its ticket, not during one.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.config import Catalog, Loc
from bot.ports import FieldInfo, ProjectInfo, Tracker, TrackerError


def _names(values: Iterable[str]) -> str:
    listed = sorted(values)
    shown = ", ".join(listed[:12])
    return shown + (f" and {len(listed) - 12} more" if len(listed) > 12 else "") or "none"


async def jira_problems(catalog: Catalog, tracker: Tracker) -> list[tuple[Loc, str]]:
    """Mismatches between the catalog and the Jira site, by catalog field path."""
    jira = catalog.jira
    try:
        await tracker.account_id()
        fields = await tracker.fields()
        priorities = await tracker.priorities()
    except TrackerError as error:
        return [(("jira",), f"cannot use Jira with these credentials: {error}")]
    problems: list[tuple[Loc, str]] = []
    projects: dict[str, ProjectInfo | None] = {}

    async def project(key: str) -> ProjectInfo | None:
        if key not in projects:
            projects[key] = await tracker.project(key)
        return projects[key]

    # Routing: projects and issue types.
    routes: list[tuple[Loc, str, Loc, str]] = []
    default_type = jira.issue_type
    if jira.default_project:
        override = jira.projects.get(jira.default_project)
        issue_type = (override.issue_type if override else None) or default_type
        routes.append(
            (("jira", "default_project"), jira.default_project, ("jira", "issue_type"), issue_type)
        )
    for index, category in enumerate(catalog.categories):
        key = category.jira.project
        if key is None:
            continue
        override = jira.projects.get(key)
        issue_type = (
            category.jira.issue_type or (override.issue_type if override else None) or default_type
        )
        where: Loc = ("categories", index, "jira", "project")
        type_loc: Loc = (
            ("categories", index, "jira", "issue_type")
            if category.jira.issue_type
            else ("jira", "issue_type")
        )
        routes.append((where, key, type_loc, issue_type))
    for where, key, type_loc, issue_type in routes:
        info = await project(key)
        if info is None:
            problems.append(
                (where, f"Jira has no project {key} (or the bot account cannot see it)")
            )
            continue
        if issue_type.casefold() not in {t.casefold() for t in info.issue_types}:
            problems.append(
                (
                    type_loc,
                    f"project {key} has no issue type {issue_type!r} "
                    f"(it has: {_names(info.issue_types)})",
                )
            )
    followup_project = jira.followup_project or jira.default_project
    if followup_project:
        info = await project(followup_project)
        where = (
            ("jira", "followup_project") if jira.followup_project else ("jira", "default_project")
        )
        if info is None and jira.followup_project:
            problems.append((where, f"Jira has no project {followup_project}"))
        elif info is not None and jira.followup_issue_type.casefold() not in {
            t.casefold() for t in info.issue_types
        }:
            problems.append(
                (
                    ("jira", "followup_issue_type"),
                    f"project {followup_project} has no issue type {jira.followup_issue_type!r} "
                    f"(it has: {_names(info.issue_types)})",
                )
            )

    # Statuses: each project's mapping (its override, else the global one).
    for key, info in list(projects.items()):
        if info is None:
            continue
        known = {s.casefold() for s in info.statuses}
        override = jira.projects.get(key)
        for status, jira_status in jira.status_mapping.items():
            if override is not None and status in override.status_mapping:
                continue
            if jira_status.casefold() not in known:
                problems.append(
                    (
                        ("jira", "status_mapping", status),
                        f"project {key} has no status {jira_status!r} "
                        f"(its statuses: {_names(info.statuses)})",
                    )
                )
        if override is not None:
            for status, jira_status in override.status_mapping.items():
                if jira_status.casefold() not in known:
                    problems.append(
                        (
                            ("jira", "projects", key, "status_mapping", status),
                            f"project {key} has no status {jira_status!r} "
                            f"(its statuses: {_names(info.statuses)})",
                        )
                    )

    # Priority field and values, mapped fields.
    problems += _priority_problems(catalog, fields, priorities)
    for field_id in jira.field_mapping:
        if field_id not in fields:
            problems.append((("jira", "field_mapping", field_id), f"Jira has no field {field_id}"))
    return problems


def _priority_problems(
    catalog: Catalog, fields: dict[str, FieldInfo], priorities: tuple[str, ...]
) -> list[tuple[Loc, str]]:
    jira = catalog.jira
    field_id = jira.priority_field
    if field_id != "priority" and field_id not in fields:
        return [(("jira", "priority_field"), f"Jira has no field {field_id}")]
    if field_id == "priority":
        allowed: tuple[str, ...] = priorities
        what = "priority"
    else:
        allowed = fields[field_id].options
        what = f"option of {fields[field_id].name} ({field_id})"
    if not allowed:
        return []
    known = {a.casefold() for a in allowed}
    return [
        (
            ("jira", "priority_mapping", key),
            f"Jira has no {what} {name!r} (it has: {_names(allowed)})",
        )
        for key, name in jira.priority_mapping.items()
        if name.casefold() not in known
    ]
