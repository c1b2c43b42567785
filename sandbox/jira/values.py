"""Field values: what a request may send for each kind of field, how the sandbox stores it, how it
answers it per API version, and how a change of it reads in the changelog.

Rich text (description, environment, textarea custom fields, comment bodies) is ADF on v3 and a plain
(wiki markup) string on v2; each is stored as sent and converted when answered in the other version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sandbox.jira.state import Account, FieldDef, JiraError

JSON = dict[str, Any]


def jira_time(moment: datetime) -> str:
    """Jira's timestamp form: milliseconds and a `+0000` offset (spec examples, J1)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def adf_text(value: Any) -> str:
    """The plain text of an ADF document (paragraphs joined by newlines, links by their text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        if value.get("type") == "hardBreak":
            return "\n"
        parts = [adf_text(child) for child in value.get("content") or []]
        joiner = "\n" if value.get("type") == "doc" else ""
        return joiner.join(parts)
    return ""


def adf_doc(text: str) -> JSON:
    """A plain string as ADF, one paragraph per line (what Jira shows a v2-written text as on v3)."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


def rich_text(value: Any, version: str) -> Any:
    """A stored rich-text value as the API version answers it."""
    if value is None:
        return None
    if version == "2":
        return adf_text(value)
    return value if isinstance(value, dict) else adf_doc(str(value))


def _cannot_set(name: str) -> JiraError:
    return JiraError(
        400,
        errors={
            name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        },
    )


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

UserLookup = Callable[[Any, str], str | None]
RefLookup = Callable[[Any, str], str]


def parse_value(  # noqa: PLR0917 - the field, the value and the site's lookups
    definition: FieldDef,
    value: Any,
    version: str,
    user_ref: UserLookup,
    priority_ref: RefLookup,
    issuetype_ref: RefLookup,
) -> Any:
    """The stored form of `value` sent for `definition`; Jira's 400 field error when it is refused."""
    name, kind = definition.id, definition.kind
    if kind == "summary":
        if not isinstance(value, str) or not value.strip():
            raise JiraError(400, errors={name: "You must specify a summary of the issue."})
        if len(value) > 255:
            raise JiraError(400, errors={name: "Summary must be less than 255 characters."})
        return value
    if kind in {"rich-text", "textarea"}:
        # The ADF/string form was checked before (contract.text_field_violations).
        return value
    if kind == "issuetype":
        return issuetype_ref(value, name)
    if kind == "priority":
        return priority_ref(value, name) if value is not None else None
    if kind == "user":
        return user_ref(value, name)
    if kind == "labels":
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(v, str) and v and " " not in v for v in value
        ):
            raise JiraError(400, errors={name: "Labels must be strings without spaces."})
        return list(value)
    if kind == "date":
        if value is not None and not (isinstance(value, str) and _DATE.match(value)):
            raise JiraError(400, errors={name: "Error parsing date string: " + json.dumps(value)})
        return value
    if kind == "string":
        if value is not None and not isinstance(value, str):
            raise JiraError(400, errors={name: "Operation value must be a string"})
        if isinstance(value, str) and len(value) > 255:
            raise JiraError(400, errors={name: "Text fields cannot be longer than 255 characters."})
        return value
    if kind == "number":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise JiraError(400, errors={name: "Operation value must be a number"})
        return value
    if kind == "option":
        if value is None:
            return None
        option = definition.option(value)
        if option is None:
            shown = value.get("value", value.get("id")) if isinstance(value, dict) else value
            raise JiraError(400, errors={name: f"Option value '{shown}' is not valid"})
        return {"id": option.id, "value": option.value}
    if kind == "multi-option":
        if value is None:
            return []
        if not isinstance(value, list):
            raise JiraError(400, errors={name: "Operation value must be an array of options"})
        chosen = []
        for ref in value:
            option = definition.option(ref)
            if option is None:
                raise JiraError(
                    400, errors={name: f"Option value '{json.dumps(ref)}' is not valid"}
                )
            chosen.append({"id": option.id, "value": option.value})
        return chosen
    raise _cannot_set(name)


def option_json(base_url: str, version: str, option: JSON) -> JSON:
    return {
        "self": f"{base_url}/rest/api/{version}/customFieldOption/{option['id']}",
        "value": option["value"],
        "id": option["id"],
    }


def display(
    definition: FieldDef,
    value: Any,
    *,
    names: Callable[[str, str], str],
    user: Callable[[str], Account],
    datacenter: bool,
) -> tuple[str | None, str | None]:
    """(`from`/`to`, `fromString`/`toString`) of a changelog item, as Jira writes them.

    `names(kind, id)` gives the name of a status, priority or issue type by id."""
    if value is None or value == []:
        return None, None
    kind = definition.kind
    if definition.id in {"status", "priority", "issuetype"}:
        return str(value), names(definition.id, str(value))
    if kind == "user":
        account = user(str(value))
        # Data Center identifies people by user key; Cloud by account id.
        return (account.name if datacenter else account.account_id), account.display_name
    if kind == "labels":
        return None, " ".join(value)
    if kind == "option":
        return str(value["id"]), str(value["value"])
    if kind == "multi-option":
        return (
            "[" + ", ".join(str(v["id"]) for v in value) + "]",
            ",".join(str(v["value"]) for v in value),
        )
    if kind == "components":
        return ", ".join(value), ", ".join(names("component", str(v)) for v in value)
    if kind in {"rich-text", "textarea"}:
        return None, adf_text(value)
    if kind == "number":
        return None, f"{value:g}"
    if kind == "date":
        return str(value), date.fromisoformat(str(value)).isoformat()
    return None, str(value)
