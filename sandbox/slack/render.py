"""Block Kit → readable plain text, for transcripts (`firefighter demo`) and test failure messages.

Sections, headers, context, fields, buttons as `[Label]`, selects as `[Label ▾]`, inputs as
`Label: ____`, dividers as a rule. Mentions (`<@U1>`, `<#C1|name>`, `<url|label>`) are made readable.
"""

from __future__ import annotations

import re
from typing import Any

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\|([^>]*))?>")


def readable(text: str, names: dict[str, str] | None = None) -> str:
    names = names or {}
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or names.get(m.group(1), m.group(1))), text)
    text = _USER.sub(lambda m: "@" + (m.group(2) or names.get(m.group(1), m.group(1))), text)
    text = _SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(value: Any, names: dict[str, str]) -> str:
    if isinstance(value, dict):
        if value.get("type") in {"plain_text", "mrkdwn"}:
            return readable(str(value.get("text", "")), names)
        if value.get("type") == "image":
            return f"[image: {value.get('alt_text', '')}]"
        if "text" in value:
            return _text(value["text"], names)
        return ""
    return readable(str(value), names) if value is not None else ""


def _rich_text(element: Any, names: dict[str, str]) -> str:
    if isinstance(element, list):
        return "".join(_rich_text(e, names) for e in element)
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind == "text":
        return str(element.get("text", ""))
    if kind == "link":
        return str(element.get("text") or element.get("url", ""))
    if kind == "user":
        return "@" + names.get(str(element.get("user_id")), str(element.get("user_id")))
    if kind == "channel":
        return "#" + names.get(str(element.get("channel_id")), str(element.get("channel_id")))
    if kind == "emoji":
        return f":{element.get('name')}:"
    if kind == "rich_text_list":
        return "\n".join(f"• {_rich_text(e, names)}" for e in element.get("elements") or [])
    return _rich_text(element.get("elements") or [], names)


def _element(element: Any, names: dict[str, str]) -> str:
    if not isinstance(element, dict):
        return ""
    kind = str(element.get("type", ""))
    if kind in {"button", "workflow_button"}:
        return f"[{_text(element.get('text'), names)}]"
    if kind == "overflow":
        return "[⋯]"
    if kind.endswith("select") or kind in {"checkboxes", "radio_buttons"}:
        label = _text(element.get("placeholder"), names) or kind.replace("_", " ")
        selected = element.get("initial_option") or {}
        shown = _text(selected.get("text"), names) if selected else label
        return f"[{shown} ▾]"
    if kind in {"datepicker", "timepicker", "datetimepicker"}:
        return f"[{element.get('initial_date') or element.get('initial_time') or 'pick a date'}]"
    if kind in {"image"}:
        return f"[image: {element.get('alt_text', '')}]"
    return _text(element, names)


def render_blocks(blocks: list[Any] | None, names: dict[str, str] | None = None) -> str:
    """Plain text for a list of blocks (one line per visual row)."""
    names = names or {}
    lines: list[str] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            lines.append(f"# {_text(block.get('text'), names)}")
        elif kind == "section":
            if block.get("text"):
                lines.append(_text(block.get("text"), names))
            lines.extend(f"  {_text(f, names)}" for f in block.get("fields") or [])
            if block.get("accessory"):
                lines.append(f"  {_element(block['accessory'], names)}")
        elif kind == "context":
            lines.append("  " + "  ".join(_text(e, names) for e in block.get("elements") or []))
        elif kind in {"actions", "context_actions"}:
            lines.append(" ".join(_element(e, names) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("―" * 20)
        elif kind == "input":
            label = _text(block.get("label"), names)
            element = block.get("element") or {}
            initial = element.get("initial_value") if isinstance(element, dict) else None
            optional = " (optional)" if block.get("optional") else ""
            shown = initial if initial else "____"
            if isinstance(element, dict) and element.get("type") not in {
                "plain_text_input",
                "number_input",
                "email_text_input",
                "url_text_input",
            }:
                shown = _element(element, names)
            lines.append(f"{label}{optional}: {shown}")
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "markdown":
            lines.append(readable(str(block.get("text", "")), names))
        elif kind == "rich_text":
            lines.append(_rich_text(block.get("elements") or [], names))
        else:
            lines.append(f"[{kind}]")
    return "\n".join(line for line in lines if line is not None)
