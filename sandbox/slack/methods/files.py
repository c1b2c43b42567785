"""files.getUploadURLExternal + upload + files.completeUploadExternal (slack_sdk `files_upload_v2`),
and files.info.

`getUploadURLExternal` answers an `upload_url` served by the sandbox (`POST /upload/v1/<token>` takes the
bytes); `completeUploadExternal` shares the files to `channel_id` with `initial_comment`, as a file-share
message from the bot. Name, title and bytes are kept so a test can open the PNG or CSV.

`files.info` answers the file object of `methods/files.info.json`'s example (the fields the sandbox
knows, `url_private` and `url_private_download` served by `GET /files/<id>/<name>`) for a file the bot
can see: one it uploaded, or one shared in a public channel or in a channel it is a member of. Any
other file is `file_not_found`, as Slack answers a token that cannot see it.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.slack.methods import method
from sandbox.slack.state import JSON, File, SlackError
from sandbox.slack.workspace import Args, Workspace

MAX_FILE_BYTES = 1_000_000_000


@method("files.getUploadURLExternal")
def get_upload_url(ws: Workspace, args: Args) -> JSON:
    length = args.int("length", -1)
    if length < 0 or length > MAX_FILE_BYTES:
        raise SlackError("file_upload_size_restricted" if length > 0 else "invalid_arguments")
    name = args.str("filename") or ""
    file = File(
        id=ws.ids.make("F"),
        name=name,
        length=length,
        user=ws.bot_user_id,
        created=int(time.time()),
        alt_txt=args.str("alt_txt"),
    )
    ws.files[file.id] = file
    token = ws.ids.hex(24)
    ws.upload_tokens[token] = file.id
    return {"upload_url": f"{ws.base_url}/upload/v1/{token}", "file_id": file.id}


@method("files.completeUploadExternal")
def complete_upload(ws: Workspace, args: Args) -> JSON:
    items: Any = args.json("files")
    if not isinstance(items, list) or not items:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] files must be a non-empty array"]},
        )
    files: list[File] = []
    for item in items:
        file = ws.files.get(str(item.get("id"))) if isinstance(item, dict) else None
        if file is None or file.content is None:
            raise SlackError("file_not_found")
        if item.get("title"):
            file.title = str(item["title"])
        files.append(file)
    channel_ids = [c for c in [args.str("channel_id"), *args.list("channels")] if c]
    comment = args.str("initial_comment") or ""
    ws.check_broadcast("files.completeUploadExternal", comment)
    for channel_id in dict.fromkeys(channel_ids):
        channel = ws.channel(channel_id)
        if ws.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        thread_ts = args.str("thread_ts")
        if thread_ts and thread_ts not in channel.messages:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] unknown thread_ts"]}
            )
        for file in files:
            file.channels.append(channel.id)
        ws.post(channel, ws.bot_user_id, comment, files=[f.id for f in files], thread_ts=thread_ts)
    return {"files": [{"id": f.id, "title": f.title or f.name} for f in files]}


@method("files.info")
def files_info(ws: Workspace, args: Args) -> JSON:
    file = ws.files.get(args.need("file"))
    if file is None or file.content is None or not _visible_to_bot(ws, file):
        raise SlackError("file_not_found")
    return {"file": ws.file_json(file), "comments": [], "response_metadata": {"next_cursor": ""}}


def _visible_to_bot(ws: Workspace, file: File) -> bool:
    if file.user == ws.bot_user_id:
        return True
    for channel_id in file.channels:
        channel = ws.channels.get(channel_id)
        if channel is not None and (not channel.is_private or ws.bot_user_id in channel.members):
            return True
    return False
