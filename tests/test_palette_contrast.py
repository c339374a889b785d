"""The palette of app.css against WCAG 2.2: text at 4.5:1 on its background (1.4.3), the focus
ring at 3:1 on what is behind it (1.4.11, 2.4.13). Read from the stylesheet itself, so a colour
changed there is checked here, including badges that no end-to-end page happens to show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_course_chart import contrast

APP_CSS = (Path(__file__).parents[1] / "tracker" / "static" / "app.css").read_text()
ROOT = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", APP_CSS.split("}", 1)[0]))


def full(colour: str) -> str:
    """#abc as #aabbcc; #fff as #ffffff."""
    colour = colour.lower()
    return "#" + "".join(c * 2 for c in colour[1:]) if len(colour) == 4 else colour


def declared(selector: str, prop: str, default: str | None = None) -> str:
    """The colour `prop` (color, background, outline) of `selector`'s own rule in app.css, with
    a var(--x) looked up in :root; `default` when the rule does not set it (inherited)."""
    rule = re.search(r"(?:^|[}\s])" + re.escape(selector) + r"\s*\{([^}]*)\}", APP_CSS, re.M)
    assert rule, selector
    value = re.search(rf"(?<![-\w]){prop}:[^;]*?(var\(--[\w-]+\)|#[0-9a-fA-F]{{3,6}})", rule[1])
    if value is None:
        assert default is not None, (selector, prop)
        return full(default)
    found = value[1]
    return full(ROOT[found[6:-1]] if found.startswith("var(") else found)


INK, WHITE, PAGE = full(ROOT["ink"]), "#ffffff", full(ROOT["bg"])


@pytest.mark.parametrize(
    "selector",
    [".sev-0", ".sev-1", ".sev-2", ".sev-3", ".sev-4"]  # the scales' labels, the day squares
    + [".reason-urgent", ".reason-review", ".reason-severe", ".reason-worsening"]
    + [".reason-overdue", ".reason-no_response", ".reason", ".count.neutral, .badge.neutral"]
    + ["nav.staff .count", ".notice", ".button.primary"],
)
def test_text_on_each_coloured_background_has_4_5_to_1(selector):
    text = declared(selector, "color", default=INK)
    back = declared(selector, "background")
    assert contrast(text, back) >= 4.5, (selector, text, back, contrast(text, back))


@pytest.mark.parametrize(
    ("selector", "on"),
    [
        (".muted, .hint", [PAGE, WHITE, full(ROOT["urgent-bg"]), full(ROOT["notice-bg"])]),
        (".field-error", [WHITE, full(ROOT["urgent-bg"])]),
        (".urgent-box h1, .urgent-box h2", [full(ROOT["urgent-bg"])]),
        ("h2.group.urgent", [PAGE, WHITE]),
        (".status-acknowledged", [WHITE]),
        ("table.data th", [WHITE]),
        ("header.site a", [full(ROOT["brand"])]),
    ],
)
def test_text_colours_have_4_5_to_1_where_they_are_shown(selector, on):
    text = declared(selector, "color")
    for back in on:
        assert contrast(text, back) >= 4.5, (selector, text, back)


@pytest.mark.parametrize(
    ("selector", "prop", "on"),
    [
        (":focus-visible", "outline", [PAGE, WHITE]),  # links, buttons, fields; cards
        ("header.site :focus-visible", "outline-color", [full(ROOT["brand"])]),
        (".scale label:has(input:focus-visible)", "outline", [WHITE]),  # in white cards
    ],
)
def test_the_focus_ring_has_3_to_1_on_what_is_behind_it(selector, prop, on):
    ring = declared(selector, prop)
    for back in on:
        assert contrast(ring, back) >= 3, (selector, ring, back)
