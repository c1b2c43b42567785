"""The sandbox site's defaults: statuses, the two workflows, system fields, link types, priorities.

`INCIDENT_WORKFLOW` is what an incident project looks like on a real site: several in-progress
statuses and no shortcut from To Do to Done, so a client must walk it step by step.
`SIMPLE_WORKFLOW` is Jira's classic To Do → In Progress → Done, for follow-up tasks.
"""

from __future__ import annotations

from sandbox.jira.state import (
    FieldDef,
    IssueLinkType,
    IssueType,
    Priority,
    Status,
    Transition,
    Workflow,
)

TO_DO = Status("10000", "To Do", 2, "new", "To Do", "blue-gray")
IN_PROGRESS = Status("3", "In Progress", 4, "indeterminate", "In Progress", "yellow")
MITIGATED = Status("10002", "Mitigated", 4, "indeterminate", "In Progress", "yellow")
POST_MORTEM = Status("10003", "Post-mortem", 4, "indeterminate", "In Progress", "yellow")
DONE = Status("10001", "Done", 3, "done", "Done", "green")


def _from(*statuses: Status) -> frozenset[str]:
    return frozenset(s.id for s in statuses)


#: To Do → In Progress → Done, and "Reopen" back to To Do.
SIMPLE_WORKFLOW = Workflow(
    "Simplified workflow",
    (TO_DO, IN_PROGRESS, DONE),
    (
        Transition("11", "Start progress", IN_PROGRESS.id, _from(TO_DO)),
        Transition("21", "Resolve", DONE.id, _from(IN_PROGRESS)),
        Transition("31", "Reopen", TO_DO.id, _from(IN_PROGRESS, DONE)),
    ),
)

#: To Do → In Progress → Mitigated → Post-mortem → Done; Mitigated can go back to In Progress, and
#: "Reopen" brings any started incident back to To Do. There is no direct To Do → Done.
INCIDENT_WORKFLOW = Workflow(
    "Incident workflow",
    (TO_DO, IN_PROGRESS, MITIGATED, POST_MORTEM, DONE),
    (
        Transition("11", "Investigate", IN_PROGRESS.id, _from(TO_DO)),
        Transition("21", "Mitigate", MITIGATED.id, _from(IN_PROGRESS)),
        Transition("31", "Back to investigation", IN_PROGRESS.id, _from(MITIGATED)),
        Transition("41", "Start post-mortem", POST_MORTEM.id, _from(MITIGATED)),
        Transition("51", "Close", DONE.id, _from(POST_MORTEM)),
        Transition("61", "Reopen", TO_DO.id, _from(IN_PROGRESS, MITIGATED, POST_MORTEM, DONE)),
    ),
)

ISSUE_TYPES = (IssueType("10001", "Incident"), IssueType("10002", "Task"))

PRIORITIES = (
    Priority("1", "Highest"),
    Priority("2", "High"),
    Priority("3", "Medium"),
    Priority("4", "Low"),
)

LINK_TYPES = (
    IssueLinkType("10000", "Blocks", "is blocked by", "blocks"),
    IssueLinkType("10001", "Cloners", "is cloned by", "clones"),
    IssueLinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
    IssueLinkType("10003", "Relates", "relates to", "relates to"),
)

SYSTEM_FIELDS = (
    FieldDef("summary", "Summary", False, "string", "summary"),
    FieldDef("description", "Description", False, "string", "rich-text"),
    FieldDef("environment", "Environment", False, "string", "rich-text"),
    FieldDef("issuetype", "Issue Type", False, "issuetype", "issuetype"),
    FieldDef("project", "Project", False, "project", "read-only"),
    FieldDef("priority", "Priority", False, "priority", "priority"),
    FieldDef("status", "Status", False, "status", "read-only"),
    FieldDef("labels", "Labels", False, "array", "labels", items="string"),
    FieldDef("assignee", "Assignee", False, "user", "user"),
    FieldDef("reporter", "Reporter", False, "user", "user"),
    FieldDef("duedate", "Due date", False, "date", "date"),
    FieldDef("components", "Component/s", False, "array", "components", items="component"),
    FieldDef("created", "Created", False, "datetime", "read-only"),
    FieldDef("updated", "Updated", False, "datetime", "read-only"),
    FieldDef("resolution", "Resolution", False, "resolution", "read-only"),
    FieldDef("issuelinks", "Linked Issues", False, "array", "read-only", items="issuelinks"),
    FieldDef("attachment", "Attachment", False, "array", "read-only", items="attachment"),
    FieldDef("comment", "Comment", False, "comments-page", "read-only", navigable=False),
)

#: Custom fields every sandbox site has unless told otherwise: (name, kind, allowed options).
DEFAULT_CUSTOM_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Severity", "option", ("SEV1", "SEV2", "SEV3", "SEV4")),
    ("Slack channel", "string", ()),
    # Some sites keep the incident priority in a custom select instead of the system field.
    ("Incident priority", "option", ("P1", "P2", "P3", "P4", "P5")),
    ("Impact", "textarea", ()),
    ("Customers affected", "number", ()),
    ("Incident commander", "user", ()),
    ("Affected services", "multi-option", ("checkout", "payments", "search", "login")),
)
