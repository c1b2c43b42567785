"""Declaring a P2 over Socket Mode, with every Slack Web API call answered after 20 ms.

Run by hand: `.venv/bin/python bench/declare_latency.py [--runs 30] [--latency-ms 20] [--sqlite]`.
The bot runs as its own process (`python -m bot run`) on a fresh PostgreSQL database (or SQLite
with --sqlite) against the sandbox, which delays every Web API call by the latency. For each run:

* the ack latency of `/incident open` and of the declare modal's submission (envelope sent by the
  sandbox → ack received), and
* the time from the submission to "channel ready" (channel created, declarer and responder invited,
  summary pinned, announcement posted in #incidents), with the Web API calls made on that path and
  the number of dependent round trips (calls that had to wait for an earlier answer).

Printed next to the baseline of PRODUCT.md §7 (the original product: 223 ms median to channel ready
with 8 sequential calls; acks 11.7 ms median) and the targets of issue 3 (ack p99 < 10 ms, ready <
150 ms, ≤ 3 dependent round trips)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    bench_sandbox,
    block_kit_problems,
    bot_process,
    percentile,
    seed_catalog_names,
)
from sandbox.slack import SlackSandbox  # noqa: E402

BASELINE_READY_MS = 223.0
BASELINE_READY_CALLS = 8
BASELINE_ACK_MEDIAN_MS = 11.7
TARGET_READY_MS = 150.0
TARGET_ACK_P99_MS = 10.0
IGNORED = {"views.open", "views.update", "auth.test", "apps.connections.open"}


def rounds(starts: list[float], latency: float) -> int:
    """Dependent round trips: a call issued at least one latency after the first call of the
    current round waited for an answer, so it starts a new round."""
    count = 0
    round_start = -1e9
    for at in sorted(starts):
        if at >= round_start + latency * 0.9:
            count += 1
            round_start = at
    return count


async def postgres_database() -> tuple[str, str]:
    import asyncpg

    base = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{base.rpartition('/')[0]}/{name}", name


async def drop(name: str) -> None:
    import asyncpg

    base = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    admin = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main(runs: int, latency_ms: float, sqlite: bool, trace: bool = False) -> dict[str, float]:
    """Run the bench, print its report and return its figures (bench/run_all.py tabulates them)."""
    latency = latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        if sqlite:
            url, db_name = f"sqlite://{tmp}/bench.sqlite3", None
        else:
            url, db_name = await postgres_database()
        try:
            async with bench_sandbox() as slack:
                return await run(slack, url, runs, latency, trace)
        finally:
            if db_name:
                await drop(db_name)


async def run(
    slack: SlackSandbox, url: str, runs: int, latency: float, trace: bool = False
) -> dict[str, float]:
    user = slack.add_user("bench")
    responder = slack.add_user("oncall")
    slack.add_usergroup("payments-oncall", [responder])
    announcements = slack.add_channel("incidents", bot=True)
    seed_catalog_names(slack, responder)
    channel = slack.add_channel("bench", members=[user])
    async with bot_process(slack, url):
        for _ in range(10):  # warm-up: imports, connection pools, the catalog's look-ups
            await slack.run_slash_command(user, "/incident", "help", channel)
        await asyncio.sleep(1.0)
        slack.inject_latency(latency)
        open_acks: list[float] = []
        submit_acks: list[float] = []
        ready: list[float] = []
        calls: list[int] = []
        trips: list[int] = []
        for i in range(runs + 3):
            views_before = len(slack.calls("views.open"))
            started = time.perf_counter()
            ack = await slack.run_slash_command(
                user, "/incident", f"open Bench outage number {i:03d}", channel
            )
            open_ms = (time.perf_counter() - started) * 1000
            assert ack.acked, "the command was not acknowledged"
            await slack.wait_for(
                lambda before=views_before: len(slack.calls("views.open")) > before, timeout=10
            )
            view = slack.views(user)[-1]
            channels_before = set(slack.channels)
            announced_before = len(slack.messages(announcements))
            values = {
                "declare.impact.business": {"declare.impact": "medium"},
                "declare.summary": {"declare.summary": "Checkout payments failing for bench."},
                "declare.category": {"declare.category": "payments"},
            }
            submitted_wall = time.time()
            started = time.perf_counter()
            ack = await slack.submit_view(user, view.id, values)
            submit_ms = (time.perf_counter() - started) * 1000
            assert ack.acked and not ack.errors, f"submission refused: {ack.errors}"

            def is_ready(
                before: set[str] = channels_before, announced: int = announced_before
            ) -> bool:
                new = [c for cid, c in slack.channels.items() if cid not in before]
                return bool(
                    new
                    and user in new[0].members
                    and responder in new[0].members
                    and new[0].pins
                    and len(slack.messages(announcements)) > announced
                )

            await slack.wait_for(is_ready, timeout=10, interval=0.0005)
            ready_ms = (time.perf_counter() - started) * 1000
            ready_wall = time.time()
            path = [
                r
                for r in slack.requests
                if submitted_wall <= r.at <= ready_wall and r.method not in IGNORED
            ]
            await asyncio.sleep(0.3)  # let the rest (topic notice clean-up…) finish
            if i < 3:
                continue  # warm-up runs
            open_acks.append(open_ms)
            submit_acks.append(submit_ms)
            ready.append(ready_ms)
            calls.append(len(path))
            trips.append(rounds([r.at for r in path], latency))
            if trace:
                print(
                    f"run {i - 2}: {ready_ms:.0f} ms: "
                    + ", ".join(
                        f"{r.method} @{(r.at - submitted_wall) * 1000:.0f}"
                        for r in sorted(path, key=lambda r: r.at)
                    )
                )
        figures = report(
            open_acks=open_acks,
            submit_acks=submit_acks,
            ready=ready,
            calls=calls,
            trips=trips,
            latency=latency,
        )
        slack.assert_no_violations()
        problems = block_kit_problems(slack)
        print(f"Block Kit schema problems (checked after the runs): {len(problems)}")
        for problem in problems[:5]:
            print(f"  {problem}")
        figures["violations"] = float(len(slack.violations) + len(problems))
        return figures


def report(
    *,
    open_acks: list[float],
    submit_acks: list[float],
    ready: list[float],
    calls: list[int],
    trips: list[int],
    latency: float,
) -> dict[str, float]:
    def line(name: str, values: list[float]) -> str:
        return (
            f"{name:<28} p50 {percentile(values, 50):7.1f} ms   p99 {percentile(values, 99):7.1f} ms"
            f"   max {max(values):7.1f} ms"
        )

    print(f"runs: {len(ready)}, Slack latency {latency * 1000:.0f} ms per Web API call")
    print(line("ack /incident open", open_acks))
    print(line("ack declare submission", submit_acks))
    print(line("submission -> channel ready", ready))
    print(
        f"Web API calls on that path: median {statistics.median(calls):.0f}"
        f" (min {min(calls)}, max {max(calls)}); dependent round trips: median"
        f" {statistics.median(trips):.0f} (max {max(trips)})"
    )
    median_ready = statistics.median(ready)
    print(
        f"vs baseline: ready {median_ready:.0f} ms vs {BASELINE_READY_MS:.0f} ms"
        f" ({median_ready / BASELINE_READY_MS:.2f}x), ack median"
        f" {statistics.median(submit_acks):.1f} ms vs {BASELINE_ACK_MEDIAN_MS} ms"
        f" ({statistics.median(submit_acks) / BASELINE_ACK_MEDIAN_MS:.2f}x)"
    )
    print(
        f"targets: ready < {TARGET_READY_MS:.0f} ms: "
        f"{'met' if median_ready < TARGET_READY_MS else 'MISSED'} (median);"
        f" ack p99 < {TARGET_ACK_P99_MS:.0f} ms: "
        f"{'met' if max(percentile(open_acks, 99), percentile(submit_acks, 99)) < TARGET_ACK_P99_MS else 'MISSED'}"
    )
    return {
        "open_ack_p99": percentile(open_acks, 99),
        "submit_ack_p99": percentile(submit_acks, 99),
        "ready_p50": median_ready,
        "ready_p99": percentile(ready, 99),
        "calls": statistics.median(calls),
        "trips": statistics.median(trips),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--sqlite", action="store_true", help="embedded SQLite instead of PostgreSQL"
    )
    parser.add_argument(
        "--trace", action="store_true", help="print each run's Web API calls (answered at, ms)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.latency_ms, args.sqlite, args.trace))
