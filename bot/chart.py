"""The PNG chart of the reports: incidents declared per week by priority (stacked bars) and the
median time to mitigate per week (a line on a second axis).

Rendered with matplotlib's Agg canvas on a ``Figure`` of its own (never ``pyplot``, which keeps
global state), so that it is safe in a worker thread: callers run it with
``asyncio.to_thread(render_chart, ...)`` and never block the event loop. matplotlib is imported
lazily, so importing this module costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from bot.domain.incident import Priority
from bot.domain.stats import Week

WIDTH_INCHES, HEIGHT_INCHES, DPI = 9.0, 4.5, 100
"""900 x 450 pixels."""
COLORS: dict[Priority, str] = {
    Priority.P1: "#d7263d",
    Priority.P2: "#f46036",
    Priority.P3: "#f2c14e",
    Priority.P4: "#2e86ab",
    Priority.P5: "#7d8491",
}


def render_chart(
    weeks: Sequence[Week], *, title: str, names: Mapping[Priority, str] | None = None
) -> bytes:
    """The PNG bytes (blocking: run it in a thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    labels = [week.start.strftime("%d %b") for week in weeks]
    positions = list(range(len(weeks)))
    bottoms = [0] * len(weeks)
    for priority in Priority:
        counts = [week.counts.get(priority, 0) for week in weeks]
        if not any(counts):
            continue
        label = priority.label
        if names and names.get(priority):
            label = f"{priority.label} {names[priority]}"
        axes.bar(positions, counts, bottom=bottoms, color=COLORS[priority], label=label, width=0.7)
        bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
    axes.set_xticks(positions, labels, rotation=45 if len(weeks) > 8 else 0, fontsize=8)
    axes.set_ylabel("Incidents declared (week starting)")
    axes.set_ylim(0, max([*bottoms, 1]) * 1.25)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    hours = [
        week.time_to_mitigate.total_seconds() / 3600 if week.time_to_mitigate else None
        for week in weeks
    ]
    mitigation = axes.twinx()
    points = [(x, h) for x, h in zip(positions, hours, strict=True) if h is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        mitigation.plot(xs, ys, color="#222222", marker="o", label="Median time to mitigate (h)")
        mitigation.set_ylim(0, max(ys) * 1.3 or 1)
    mitigation.set_ylabel("Median time to mitigate (hours)")
    handles, names_ = axes.get_legend_handles_labels()
    more_handles, more_names = mitigation.get_legend_handles_labels()
    if handles or more_handles:
        axes.legend(
            handles + more_handles, names_ + more_names, loc="upper left", fontsize=8, ncol=3
        )
    else:
        axes.text(0.5, 0.5, "No incident in this period", ha="center", transform=axes.transAxes)
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
