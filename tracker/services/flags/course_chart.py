"""The expected-course chart of one symptom: where each mark goes, for `templates/_chart.html`.

Pure geometry in SVG user units (the template draws it; CSS scales it to the page's width): the
follow-up window's days across, severity 0 (none) to 4 (very severe) up, the expected bands
shaded, a point per day with a check-in (its worst severity that day), today's line, the days to
come shaded, and a marker under each day that went on longer than expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...catalogue import MAX_SEVERITY, SEVERITY_LABELS

if TYPE_CHECKING:
    from .timeline import SymptomDays

LEFT = 74.0
"""Room for the severity labels."""
RIGHT = 8.0
TOP = 18.0
"""Room above the plot for the "Today" label."""
COLUMN = 8.0
"""The width of one day."""
STEP = 20.0
"""The height of one severity step."""
PAD = 6.0
"""Between the plot's edge and a point at severity 0 or 4."""
MARKER = 6.0
"""The height of a longer-than-expected marker, under the plot."""
LINE = 15.0
"""The height of a line of the chart's text (11 units)."""
TICK_EVERY = 7
"""A labelled day every week."""


@dataclass(frozen=True)
class Box:
    """A rectangle: left, top, width, height."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Dot:
    """A check-in's severity on its day."""

    x: float
    y: float
    day: int
    severity: int


@dataclass(frozen=True)
class Tick:
    """A labelled position on an axis."""

    at: float
    label: str


@dataclass(frozen=True)
class CourseChart:
    """Every mark of one symptom's chart."""

    width: float
    height: float
    plot: Box
    bands: tuple[Box, ...]
    future: Box | None
    dots: tuple[Dot, ...]
    line: str
    today_x: float | None
    overdue: tuple[Box, ...]
    days: tuple[Tick, ...]
    levels: tuple[Tick, ...]

    @property
    def day_label_y(self) -> float:
        """The baseline of the day numbers, under the overdue markers."""
        return self.plot.y + self.plot.height + MARKER + LINE

    @property
    def axis_title_y(self) -> float:
        """The baseline of the axis's title, under the day numbers."""
        return self.day_label_y + LINE


def x_of(day: int) -> float:
    """The centre of a day's column."""
    return LEFT + day * COLUMN + COLUMN / 2


def y_of(severity: int) -> float:
    """The height of a severity (0 at the bottom)."""
    return TOP + PAD + (MAX_SEVERITY - severity) * STEP


def draw(row: SymptomDays, today: int, window_days: int) -> CourseChart:
    """The chart of `row` over days 0 to `window_days`, `today` being the treatment's day now."""
    columns = window_days + 1
    plot = Box(LEFT, TOP, columns * COLUMN, 2 * PAD + MAX_SEVERITY * STEP)
    bands = []
    for band in row.bands:
        first, last = max(band.first_day, 0), min(band.last_day, window_days)
        if first <= last:
            bands.append(
                Box(LEFT + first * COLUMN, plot.y, (last - first + 1) * COLUMN, plot.height)
            )
    future = None
    if 0 <= today < window_days:
        start = LEFT + (today + 1) * COLUMN
        future = Box(start, plot.y, plot.x + plot.width - start, plot.height)
    elif today < 0:
        future = plot
    dots = tuple(
        Dot(x_of(c.day), y_of(c.severity), c.day, c.severity)
        for c in row.cells
        if c.severity is not None
    )
    marker_y = plot.y + plot.height + 2
    overdue = tuple(
        Box(LEFT + c.day * COLUMN + 1, marker_y, COLUMN - 2, MARKER) for c in row.over_days
    )
    return CourseChart(
        width=LEFT + plot.width + RIGHT,
        height=plot.y + plot.height + MARKER + 2 * LINE + 5,
        plot=plot,
        bands=tuple(bands),
        future=future,
        dots=dots,
        line=" ".join(f"{d.x:g},{d.y:g}" for d in dots),
        today_x=x_of(today) if 0 <= today <= window_days else None,
        overdue=overdue,
        days=tuple(Tick(x_of(n), str(n)) for n in range(0, columns, TICK_EVERY)),
        levels=tuple(Tick(y_of(s), label) for s, label in enumerate(SEVERITY_LABELS)),
    )
