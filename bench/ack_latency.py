"""Ack latency of `/incident help` over Socket Mode, with the bot as a separate process.

Run by hand: `.venv/bin/python bench/ack_latency.py [--rate 20] [--seconds 10]`.
Prints p50/p90/p99/max of the time from the envelope leaving the sandbox to its ack arriving, next to
the baseline of PRODUCT.md §7 (the original product: 11.7 ms median, 12.3-14.6 ms p99)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox.slack import SlackSandbox  # noqa: E402

BASELINE_MEDIAN_MS = 11.7
BASELINE_P99_MS = (12.3, 14.6)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def main(rate: float, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackSandbox() as slack:
            env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
            env.update(
                SLACK_BOT_TOKEN=slack.bot_token,
                SLACK_APP_TOKEN=slack.app_token,
                SLACK_API_URL=slack.base_url,
                DATABASE_URL=f"sqlite://{tmp}/bench.sqlite3",
                FIREFIGHTER_HTTP_HOST="127.0.0.1",
                FIREFIGHTER_HTTP_PORT="0",
                LOG_LEVEL="WARNING",
            )
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=REPO, env=env
            )
            try:
                await slack.wait_for_connection(timeout=30)
                user = slack.add_user("bench")
                channel = slack.add_channel("bench", members=[user])
                for _ in range(20):  # warm-up: auth.test, imports, JIT caches
                    await slack.run_slash_command(user, "/incident", "help", channel)
                latencies: list[float] = []

                async def one() -> None:
                    started = time.perf_counter()
                    ack = await slack.run_slash_command(user, "/incident", "help", channel)
                    if ack.acked:
                        latencies.append((time.perf_counter() - started) * 1000)

                tasks = []
                interval = 1 / rate
                start = time.perf_counter()
                count = int(rate * seconds)
                for i in range(count):
                    delay = start + i * interval - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one()))
                await asyncio.gather(*tasks)
            finally:
                bot.terminate()
                await bot.wait()
            violations = len(slack.violations)
    print(f"/incident help at {rate:g}/s for {seconds:g} s: {len(latencies)}/{count} acked")
    print(
        f"  p50 {statistics.median(latencies):.1f} ms  p90 {percentile(latencies, 90):.1f} ms  "
        f"p99 {percentile(latencies, 99):.1f} ms  max {max(latencies):.1f} ms"
    )
    print(
        f"  baseline (original, HTTP mode): median {BASELINE_MEDIAN_MS} ms, p99 "
        f"{BASELINE_P99_MS[0]}-{BASELINE_P99_MS[1]} ms; ratio p50 "
        f"{statistics.median(latencies) / BASELINE_MEDIAN_MS:.2f}x"
    )
    print(f"  contract violations: {violations}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds))
