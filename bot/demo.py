"""``firefighter demo``: the real bot against the local Slack sandbox, played as users would.

It starts the sandbox, runs ``bot.main.run`` (the same code as ``firefighter run``: database,
migrations, Socket Mode, scheduler, health server), drives a scripted session through Socket Mode,
prints what each person would see in Slack, and can write a JSON report of the session."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.config import Catalog, Settings
from bot.main import run
from sandbox.slack import SlackSandbox

STEP_TIMEOUT = 10.0


@dataclass
class Step:
    """One thing a user did, and what Slack showed afterwards."""

    actor: str
    action: str
    shown: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"actor": self.actor, "action": self.action, "shown": self.shown}


@dataclass
class Transcript:
    steps: list[Step] = field(default_factory=list)
    quiet: bool = False

    def record(self, step: Step) -> None:
        self.steps.append(step)
        if self.quiet:
            return
        print(f"\n▶ {step.actor} {step.action}")
        for block in step.shown:
            for line in block.splitlines() or [""]:
                print(f"   │ {line}")


async def run_demo(
    settings: Settings, catalog: Catalog, *, report: Path | None, quiet: bool
) -> int:
    transcript = Transcript(quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="firefighter-demo-") as tmp:
        async with SlackSandbox() as slack:
            database_url = (
                settings.database_url
                if settings.model_fields_set.intersection({"database_url"})
                else f"sqlite://{Path(tmp) / 'demo.sqlite3'}"
            )
            bot_settings = settings.model_copy(
                update={
                    "slack_bot_token": SecretStr(slack.bot_token),
                    "slack_app_token": SecretStr(slack.app_token),
                    "slack_api_url": slack.base_url,
                    "database_url": database_url,
                    "http_host": "127.0.0.1",
                    "http_port": 0,
                }
            )
            _print(quiet, f"Slack sandbox on {slack.base_url} · database {_safe_url(database_url)}")
            stop, ready = asyncio.Event(), asyncio.Event()
            bot_task = asyncio.create_task(run(bot_settings, catalog, stop=stop, ready=ready))
            try:
                await _wait_until_ready(ready, bot_task)
                await slack.wait_for_connection(timeout=STEP_TIMEOUT)
                _print(quiet, "FireFighter is connected over Socket Mode.")
                await _play(slack, catalog, transcript)
            finally:
                stop.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(bot_task, timeout=STEP_TIMEOUT)
            violations = [
                {"method": v.method, "kind": v.kind, "detail": v.detail} for v in slack.violations
            ]
            if report is not None:
                text = json.dumps(
                    {
                        "servers": {
                            "slack": {
                                "requests": len(slack.requests),
                                "violations": violations,
                            }
                        },
                        "transcript": [step.as_json() for step in transcript.steps],
                        "state": {"slack": slack.snapshot()},
                    },
                    indent=2,
                    default=str,
                )
                await asyncio.to_thread(report.write_text, text)
                _print(quiet, f"\nReport written to {report}")
            _print(
                quiet,
                f"\nSlack sandbox: {len(slack.requests)} requests, {len(violations)} contract violations.",
            )
            for violation in violations:
                print(f"  violation: {violation}")
            return 1 if violations else 0


async def _play(slack: SlackSandbox, catalog: Catalog, transcript: Transcript) -> None:
    command = catalog.slack.command
    alice = slack.add_user("alice", real_name="Alice Martin")
    bob = slack.add_user("bob", real_name="Bob Nguyen")
    general = slack.add_channel("general", members=[alice, bob])
    names = {alice: "Alice", bob: "Bob"}

    async def slash(user: str, text: str) -> None:
        before = len(slack.ephemerals(user, general))
        await slack.run_slash_command(user, command, text, general)
        shown = await _settle(lambda: slack.ephemerals(user, general)[before:])
        transcript.record(
            Step(
                names[user],
                f"types `{f'{command} {text}'.strip()}` in #general",
                [f"(only visible to {names[user]})\n{slack.render_message(e)}" for e in shown],
            )
        )

    async def home(user: str) -> None:
        previous = slack.home_view(user)
        previous_hash = previous.hash if previous else None
        await slack.open_app_home(user)
        await _settle(lambda: (v := slack.home_view(user)) is not None and v.hash != previous_hash)
        view = slack.home_view(user)
        transcript.record(
            Step(
                names[user],
                "opens the FireFighter Home tab",
                [
                    slack.render_blocks(view.payload["blocks"])
                    if view
                    else "(nothing was published)"
                ],
            )
        )

    await slash(alice, "")
    await slash(alice, "lsit")
    await slash(alice, "list")
    await slash(bob, "list mine")
    await home(alice)
    await home(bob)


async def _settle(probe: Callable[[], Any]) -> Any:
    """Poll until ``probe`` returns something truthy (what Slack shows arrives after the ack)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while True:
        value = probe()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.02)


async def _wait_until_ready(ready: asyncio.Event, task: Awaitable[None]) -> None:
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait(
        {waiter, asyncio.ensure_future(task)}, timeout=30, return_when=asyncio.FIRST_COMPLETED
    )
    if waiter not in done:
        waiter.cancel()
        for finished in done:
            finished.result()  # re-raise why the bot stopped
        raise RuntimeError("the bot did not start within 30 s")


def _safe_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def _print(quiet: bool, text: str) -> None:
    if not quiet:
        print(text)
