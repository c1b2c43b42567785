"""Every benchmark in one command: a table of figures beside their targets, written to the docs.

Run by hand: `.venv/bin/python bench/run_all.py [--quick]` (PostgreSQL at `TEST_DATABASE_URL`,
default postgres://postgres@127.0.0.1:5432/test; each bench creates and drops its own database).
Runs, in turn: sustained ack latency at 20 and 100 interactions/s (bench/sustained_acks.py),
declaration to channel ready with 20 ms per Slack call (bench/declare_latency.py), the storm of
declarations under Slack's rate tiers with the bot's memory (bench/storm.py), the App Home render
(bench/home_render.py) and one Jira pull cycle (bench/jira_pull.py). Prints one table (figure ·
measured · target · verdict) and rewrites the generated section of docs/benchmarks.md, between its
markers, with the command, the machine and the date; the hand-written sections stay as they are.

--quick is for checking the suite works (about 3 minutes instead of 8): 10 s per rate, 10
declaration runs, a storm of 25 within 3 s, App Home at 1,000 and 5,000 incidents, a Jira pull over
1,000 linked incidents. The command written beside the table says which it was."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import declare_latency, home_render, jira_pull, storm, sustained_acks  # noqa: E402

DOC = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- BEGIN bench/run_all.py: generated, edit the script instead -->"
END = "<!-- END bench/run_all.py -->"


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    verdict: str  # "met", "MISSED", a ratio, or "—" when the figure has no target

    def cells(self) -> list[str]:
        return [self.figure, self.measured, self.target, self.verdict]


def verdict(met: bool, ratio: float | None = None) -> str:
    word = "met" if met else "MISSED"
    return word if ratio is None else f"{ratio:.2f}x · {word}"


def machine() -> str:
    """CPU model, cores and RAM, as `lscpu` and /proc/meminfo tell them."""
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    memory = "? GiB"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return f"{model}, {os.cpu_count()} cores, {memory} RAM, Python {platform.python_version()}"


async def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    seconds = 10.0 if quick else 30.0
    print(f"== sustained acks, {seconds:g} s per rate", flush=True)
    sustained = await sustained_acks.measure([20.0, 100.0], seconds)
    sustained_acks.report(sustained)
    for s in sustained:
        target = s.target or 0.0
        rows.append(
            Row(
                f"ack p50 / p99 at {s.rate:g} interactions/s for {s.seconds:g} s "
                f"({s.acked}/{s.sent} acked)",
                f"{s.p50:.1f} / {s.p99:.1f} ms",
                f"p99 < {target:g} ms",
                verdict(s.p99 < target and s.acked == s.sent, s.p99 / target),
            )
        )
    print("== declaration → channel ready, 20 ms per Slack call", flush=True)
    declared = await declare_latency.main(10 if quick else 30, 20.0, sqlite=False)
    rows.append(
        Row(
            "submission → channel ready p50 / p99 (20 ms Slack latency)",
            f"{declared['ready_p50']:.1f} / {declared['ready_p99']:.1f} ms",
            "< 150 ms",
            verdict(declared["ready_p99"] < 150, declared["ready_p99"] / 150),
        )
    )
    rows.append(
        Row(
            "Web API calls / dependent round trips on that path (median)",
            f"{declared['calls']:.0f} / {declared['trips']:.0f}",
            "≤ 3 round trips",
            verdict(declared["trips"] <= 3),
        )
    )
    n, within = (25, 3.0) if quick else (100, 10.0)
    print(f"== storm: {n} declarations within {within:g} s, rate tiers enforced", flush=True)
    st = await storm.measure(n, within)
    storm.report(st)
    rows.append(
        Row(
            f"storm: slowest of {len(st.acks_ms)} acks (p99)",
            f"{max(st.acks_ms):.0f} ms ({st.ack_p99_ms:.0f} ms), {st.unacked} not acked",
            "every ack < 3 s",
            verdict(st.late_acks == 0 and st.unacked == 0),
        )
    )
    rows.append(
        Row(
            "storm: channels · pinned · announced · incidents",
            f"{st.channels} · {st.ready} · {st.announced_channels} · {st.incidents}",
            f"{n} each, none lost or duplicated",
            verdict(not st.lost_or_duplicated),
        )
    )
    ratio = st.ratio
    rows.append(
        Row(
            "storm: completion / rate-limit bound of what the declarations need",
            "not complete"
            if st.completion_s is None
            else f"{st.completion_s:.1f} s / {st.bound_s:.0f} s ({st.bound_method})",
            "≤ 1.1x the bound",
            "MISSED" if ratio is None else verdict(ratio <= storm.TARGET_RATIO, ratio),
        )
    )
    rows.append(Row("RSS of the bot, idle after start", f"{st.rss_idle_mb:.1f} MB", "—", "—"))
    rows.append(
        Row(
            "RSS of the bot after the storm",
            f"{st.rss_after_mb:.1f} MB ({st.threads_after} threads)",
            "< 100 MB",
            verdict(st.rss_after_mb < 100, st.rss_after_mb / 100),
        )
    )
    sizes, renders = ([1000, 5000], 50) if quick else ([1000, 50000], 200)
    print(f"== App Home render at {sizes}", flush=True)
    homes = [await home_render.measure(size, renders) for size in sizes]
    for h in homes:
        rows.append(
            Row(
                f"App Home render p95 · queries, {int(h['size']):,} incidents",
                f"{h['p95']:.1f} ms · {int(h['queries'])}",
                "p95 < 100 ms · ≤ 5 queries",
                verdict(h["p95"] < 100 and h["queries"] <= 5, h["p95"] / 100),
            )
        )
    linked = 1000 if quick else 5000
    print(f"== Jira pull over {linked} linked incidents", flush=True)
    pulled = await jira_pull.measure(linked, 100, "cloud")
    rows.append(
        Row(
            f"Jira pull cycle, {linked:,} linked, 100 changed (Cloud) · search requests",
            f"{pulled['seconds']:.2f} s · {int(pulled['searches'])}",
            "< 2 s · ≤ 3 searches",
            verdict(pulled["seconds"] < 2 and pulled["searches"] <= 3, pulled["seconds"] / 2),
        )
    )
    rows.append(
        Row(
            "storm: contract violations of the Slack sandbox",
            str(st.violations),
            "0",
            verdict(st.violations == 0),
        )
    )
    return rows


def table(rows: list[Row]) -> str:
    header = ["figure", "measured", "target", "ratio · verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def plain(rows: list[Row]) -> str:
    cells = [["figure", "measured", "target", "ratio · verdict"]] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(4)) for c in cells)


def section(rows: list[Row], command: str, took: float, load: tuple[float, float]) -> str:
    """The generated section; ``load`` is the 1-minute load average before and after the run,
    because other work on the machine moves the figures (the tail latencies first)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            BEGIN,
            "## Every figure against its target (generated)",
            "",
            f"Command: `{command}` ({when}, {took / 60:.1f} min). Machine: {machine()}; "
            "PostgreSQL on the same machine; the bot as its own process (migrated first by "
            "its own, as the image does) against the sandbox, which checks Block Kit's schema "
            "after the timed part (`bench_sandbox`); "
            f"load average {load[0]:.1f} before the run, {load[1]:.1f} after.",
            "",
            table(rows),
            END,
        ]
    )


def write_doc(text: str, path: Path = DOC) -> None:
    """Replace the generated section between the markers, or append it when there is none."""
    doc = path.read_text()
    if BEGIN in doc and END in doc:
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        doc = head + text + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 3 minutes")
    parser.add_argument("--no-write", action="store_true", help="print only, leave the docs")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    rows = asyncio.run(run(args.quick))
    took = time.perf_counter() - started
    print()
    print(plain(rows))
    command = ".venv/bin/python bench/run_all.py" + (" --quick" if args.quick else "")
    if not args.no_write:
        write_doc(section(rows, command, took, (load_before, os.getloadavg()[0])))
        print(f"\nwritten to {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
