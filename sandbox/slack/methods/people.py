"""auth.test, team.info, users.*, usergroups.* (bodies as in each method's `examples.success`)."""

from __future__ import annotations

import time

from sandbox.slack.methods import method
from sandbox.slack.state import JSON, SlackError, User
from sandbox.slack.workspace import Args, Workspace


def user_json(ws: Workspace, user: User, *, with_email: bool = True) -> JSON:
    """A user object shaped like `methods/users.info.json` `examples.success`."""
    image = f"https://avatars.sandbox.invalid/{user.id}.png"
    profile: JSON = {
        "avatar_hash": user.id.lower(),
        "status_text": "",
        "status_emoji": "",
        "real_name": user.real_name,
        "display_name": user.name,
        "real_name_normalized": user.real_name,
        "display_name_normalized": user.name,
        "image_24": image,
        "image_48": image,
        "image_72": image,
        "image_192": image,
        "team": ws.team_id,
    }
    if user.email and with_email:
        profile["email"] = user.email
    if user.bot_id:
        profile["bot_id"] = user.bot_id
        profile["api_app_id"] = ws.app_id
    return {
        "id": user.id,
        "team_id": ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": user.tz,
        "tz_offset": user.tz_offset,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": int(time.time()),
        "has_2fa": False,
    }


def _page(items: list[JSON], args: Args, default_limit: int) -> tuple[list[JSON], str]:
    """Cursor pagination: the cursor is the offset, as an opaque string."""
    cursor = args.str("cursor")
    try:
        start = int(cursor.removeprefix("dXNlcjo")) if cursor else 0
    except ValueError:
        raise SlackError("invalid_cursor") from None
    limit = max(1, min(args.int("limit", default_limit) or default_limit, 1000))
    page = items[start : start + limit]
    next_cursor = f"dXNlcjo{start + limit}" if start + limit < len(items) else ""
    return page, next_cursor


@method("auth.test")
def auth_test(ws: Workspace, args: Args) -> JSON:
    return {
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@method("team.info")
def team_info(ws: Workspace, args: Args) -> JSON:
    team = args.str("team")
    if team and team != ws.team_id:
        raise SlackError("team_not_found")
    return {
        "team": {
            "id": ws.team_id,
            "name": ws.team_name,
            "domain": ws.domain,
            "email_domain": "example.com",
            "icon": {"image_default": True},
            "enterprise_id": None,
            "enterprise_name": None,
        }
    }


@method("users.info")
def users_info(ws: Workspace, args: Args) -> JSON:
    user = ws.user(args.str("user"))
    return {"user": user_json(ws, user, with_email="users:read.email" in ws.bot_scopes)}


@method("users.list")
def users_list(ws: Workspace, args: Args) -> JSON:
    members = [
        user_json(ws, u, with_email="users:read.email" in ws.bot_scopes) for u in ws.users.values()
    ]
    page, next_cursor = _page(members, args, 200)
    return {
        "members": page,
        "cache_ts": int(time.time()),
        "response_metadata": {"next_cursor": next_cursor},
    }


@method("users.lookupByEmail")
def users_lookup_by_email(ws: Workspace, args: Args) -> JSON:
    email = (args.str("email") or "").lower()
    for user in ws.users.values():
        if user.email and user.email.lower() == email:
            return {"user": user_json(ws, user)}
    raise SlackError("users_not_found")


@method("usergroups.list")
def usergroups_list(ws: Workspace, args: Args) -> JSON:
    groups = [
        ws.usergroup_json(
            group,
            include_users=args.bool("include_users"),
            include_count=args.bool("include_count"),
        )
        for group in ws.usergroups.values()
    ]
    return {"usergroups": groups}


@method("usergroups.users.list")
def usergroups_users_list(ws: Workspace, args: Args) -> JSON:
    group = ws.usergroups.get(args.str("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}
