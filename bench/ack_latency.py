"""Ack latency of `/incident help` over Socket Mode, with the bot as a separate process.

Run by hand: `.venv/bin/python bench/ack_latency.py [--rate 20] [--seconds 10]`.
Prints p50/p90/p99/max of the time from the envelope leaving the sandbox to its ack arriving, next to
the baseline of PRODUCT.md §7 (the original product: 11.7 ms median, 12.3-14.6 ms p99)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bot_process, percentile  # noqa: E402
from sandbox.slack import SlackSandbox  # noqa: E402

BASELINE_MEDIAN_MS = 11.7
BASELINE_P99_MS = (12.3, 14.6)


async def main(rate: float, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackSandbox() as slack:
            async with bot_process(slack, f"sqlite://{tmp}/bench.sqlite3"):
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
