"""A sandbox Jira site shaped like a catalog's Jira section: every project the catalog routes to,
with a workflow holding the statuses its mapping names, the people of the Slack workspace as Jira
users (same e-mails), and the custom fields the demo maps. Used by the app tests and the demo."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from bot.config import Catalog
from bot.domain.incident import Status as IncidentStatus
from sandbox.jira import catalog as site
from sandbox.jira.server import SandboxJira
from sandbox.jira.state import IssueType, Priority, Status, Transition, Workflow

_status_ids = itertools.count(20000)


def _workflow_for(sandbox: SandboxJira, names: list[str]) -> Workflow:
    """A linear workflow through ``names`` (in lifecycle order) plus a global "Reopen"."""
    known = {s.name.casefold(): s for s in sandbox.statuses.values()}
    statuses: list[Status] = []
    for index, name in enumerate(names):
        status = known.get(name.casefold())
        if status is None:
            last = index == len(names) - 1
            category = ("done", "Done", 3) if last else ("indeterminate", "In Progress", 4)
            status = Status(
                str(next(_status_ids)), name, category[2], category[0], category[1], "yellow"
            )
            known[name.casefold()] = status
        statuses.append(status)
    transitions = [
        Transition(str(10 * (i + 1) + 1), f"To {b.name}", b.id, frozenset({a.id}))
        for i, (a, b) in enumerate(itertools.pairwise(statuses))
    ]
    transitions.append(Transition("91", "Reopen", statuses[0].id, frozenset()))
    return Workflow(f"Incident workflow ({' → '.join(names)})", tuple(statuses), tuple(transitions))


def _mapped_statuses(catalog: Catalog, project: str) -> list[str]:
    names: list[str] = []
    for status in IncidentStatus:
        name = catalog.jira.status_for(project, status.value)
        if name and name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    return names


def seed_site(
    sandbox: SandboxJira, catalog: Catalog, *, people: Iterable[tuple[str, str]] = ()
) -> Catalog:
    """Projects for every route of ``catalog`` (with their components and issue types), ``people`` (display name,
    e-mail) as users, a "Lowest" priority (Jira's default scheme has five), and a custom field per
    mapped source. Returns the catalog with ``jira.field_mapping`` pointing at those fields (the
    sandbox numbers its custom fields itself)."""
    sandbox.priorities.setdefault("5", Priority("5", "Lowest"))
    named = {catalog.jira.issue_type, catalog.jira.followup_issue_type}
    named |= {c.jira.issue_type for c in catalog.categories if c.jira.issue_type}
    named |= {p.issue_type for p in catalog.jira.projects.values() if p.issue_type}
    known = {t.name.casefold() for t in sandbox.issue_types.values()}
    for number, name in enumerate(sorted(n for n in named if n.casefold() not in known)):
        type_id = str(10100 + number)
        sandbox.issue_types[type_id] = IssueType(type_id, name)
    keys = {c.jira.project for c in catalog.categories if c.jira.project}
    keys |= {k for k in (catalog.jira.default_project, catalog.jira.followup_project) if k}
    existing = {p.key for p in sandbox.projects.values()}
    for key in sorted(keys - existing):
        names = _mapped_statuses(catalog, key)
        standard = [s.name for s in site.INCIDENT_WORKFLOW.statuses]
        workflow = (
            site.INCIDENT_WORKFLOW
            if [n.casefold() for n in names] == [n.casefold() for n in standard]
            else _workflow_for(sandbox, names)
        )
        sandbox.add_project(key, f"{key.title()} incidents", workflow=workflow)
    components: dict[str, set[str]] = {}
    for category in catalog.categories:
        routed = category.jira.project or catalog.jira.default_project
        if routed:
            components.setdefault(routed, set()).update(category.jira.components)
    for key, wanted in components.items():
        project = sandbox.project(key)
        for name in sorted(wanted - set(project.components.values())):
            sandbox.add_component(key, name)
    for display_name, email in people:
        sandbox.add_user(display_name, email=email)
    mapping = {
        sandbox.add_custom_field(f"Incident {source}", "string"): source
        for source in catalog.jira.field_mapping.values()
    }
    return catalog.model_copy(
        update={"jira": catalog.jira.model_copy(update={"field_mapping": mapping})}
    )
