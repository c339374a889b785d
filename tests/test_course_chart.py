"""The expected-course chart's geometry: each mark where its day and severity say."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.builders import TREATED_AT
from tests.test_timeline import BRUISING, DROOPING, LONDON, at
from tracker.catalogue import SEVERITY_LABELS
from tracker.rules import Observation, Report
from tracker.services.flags import course_chart
from tracker.services.flags.course_chart import COLUMN, LEFT, Box, x_of, y_of
from tracker.services.flags.timeline import lay_out


def chart_of(symptom, reports, now, window_days=28):
    history = [Observation(when, (Report(symptom.code, sev),)) for when, sev in reports]
    timeline = lay_out(
        SimpleNamespace(treated_at=TREATED_AT), [symptom], history, LONDON, now, window_days
    )
    return timeline.chart(timeline.row(symptom.code))


def test_days_go_across_and_severity_up():
    assert x_of(0) == LEFT + COLUMN / 2
    assert x_of(28) - x_of(0) == 28 * COLUMN
    assert [y_of(s) for s in range(5)] == sorted((y_of(s) for s in range(5)), reverse=True)
    assert y_of(0) - y_of(4) == 4 * course_chart.STEP


def test_bruising_from_day_1_past_its_72_hours():
    # Bruising 2 on day 1, 3 on day 2, 1 on day 5; now day 5 at noon.
    chart = chart_of(BRUISING, [(at(1), 2), (at(2), 3), (at(5), 1)], at(5, 12))
    plot = chart.plot
    assert plot == Box(LEFT, course_chart.TOP, 29 * COLUMN, plot.height)
    assert chart.width == LEFT + 29 * COLUMN + course_chart.RIGHT
    # The band: days 1 to 4 (72 hours from day 1, 10:00), the plot's full height.
    assert chart.bands == (Box(LEFT + COLUMN, plot.y, 4 * COLUMN, plot.height),)
    assert [(d.day, d.severity, d.x, d.y) for d in chart.dots] == [
        (1, 2, x_of(1), y_of(2)),
        (2, 3, x_of(2), y_of(3)),
        (5, 1, x_of(5), y_of(1)),
    ]
    assert chart.line == " ".join(f"{x_of(d):g},{y_of(s):g}" for d, s in [(1, 2), (2, 3), (5, 1)])
    assert chart.today_x == x_of(5)
    # To come: day 6 to the window's end.
    assert chart.future == Box(LEFT + 6 * COLUMN, plot.y, 23 * COLUMN, plot.height)
    # Longer than expected: days 4 (carried) and 5, under the plot.
    assert [(b.x, b.y) for b in chart.overdue] == [
        (LEFT + 4 * COLUMN + 1, plot.y + plot.height + 2),
        (LEFT + 5 * COLUMN + 1, plot.y + plot.height + 2),
    ]
    assert [t.label for t in chart.days] == ["0", "7", "14", "21", "28"]
    assert [t.label for t in chart.levels] == list(SEVERITY_LABELS)
    assert chart.height > chart.axis_title_y > chart.day_label_y > plot.y + plot.height


def test_no_expected_duration_draws_no_band_and_no_overdue_marker():
    chart = chart_of(DROOPING, [(at(1), 2), (at(10), 2)], at(12))
    assert chart.bands == ()
    assert chart.overdue == ()
    assert len(chart.dots) == 2


@pytest.mark.parametrize(
    ("now_day", "today_x", "future_from"),
    [(0, x_of(0), 1), (27, x_of(27), 28), (28, x_of(28), None), (40, None, None)],
    ids=["treatment-day", "last-day-but-one", "last-day", "after-the-window"],
)
def test_today_and_the_days_to_come(now_day, today_x, future_from):
    chart = chart_of(BRUISING, [(at(0, 11), 1)], at(now_day, 12))
    assert chart.today_x == today_x
    if future_from is None:
        assert chart.future is None
    else:
        assert chart.future.x == LEFT + future_from * COLUMN
        assert chart.future.x + chart.future.width == chart.plot.x + chart.plot.width


def test_a_band_running_past_the_window_is_cut_at_its_end():
    chart = chart_of(BRUISING, [(at(27), 1)], at(28), window_days=28)
    assert chart.bands == (Box(LEFT + 27 * COLUMN, chart.plot.y, 2 * COLUMN, chart.plot.height),)


# --- colours: WCAG 1.4.11 (marks 3:1) and 1.4.3 (text 4.5:1), read from chart.css ---------

CHART_CSS = Path(__file__).parents[1] / "tracker" / "static" / "chart.css"
WHITE, BAND, FUTURE = "#ffffff", "band", "future"


def css_colour(selector: str, prop: str) -> str:
    """The colour `prop` (fill, stroke, color) given to `selector` in chart.css."""
    rule = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CHART_CSS.read_text())
    assert rule, selector
    return re.search(rf"(?<![-\w]){prop}:\s*(#[0-9a-fA-F]{{6}})", rule.group(1)).group(1)


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def background(name: str) -> str:
    return {
        WHITE: WHITE,
        BAND: css_colour(".course .band", "fill"),
        FUTURE: css_colour(".course .future", "fill"),
    }[name]


@pytest.mark.parametrize(
    ("selector", "prop", "on", "minimum"),
    [
        (".course .band", "stroke", [WHITE, FUTURE], 3),  # the band's edge shows where it is
        (".course .course-line", "stroke", [WHITE, BAND, FUTURE], 3),
        (".course .dot", "fill", [WHITE, BAND, FUTURE], 3),
        (".course .today", "stroke", [WHITE, BAND, FUTURE], 3),
        (".course .overdue", "fill", [WHITE], 3),  # under the plot
        (".course-chart .frame", "stroke", [WHITE, BAND, FUTURE], 3),
        (".course-chart .label", "fill", [WHITE], 4.5),  # outside the plot
        (".course-chart .today-label", "fill", [WHITE], 4.5),  # above the plot
        (".course-days tr.over td:last-child", "color", [WHITE], 4.5),
    ],
)
def test_the_charts_colours_have_enough_contrast(selector, prop, on, minimum):
    colour = css_colour(selector, prop)
    for name in on:
        assert contrast(colour, background(name)) >= minimum, (selector, name)
