"""A batch's keys in its URL: every key round-trips, and nothing else names a batch."""

from __future__ import annotations

import pytest

from tracker.batch_urls import key_to_segment, segment_to_key
from tracker.batches import batch_key, product_key


@pytest.mark.parametrize(
    "key",
    [
        "botox",
        product_key("Botox 50/100"),
        product_key("Azzalure 100%"),
        product_key("Bocouture  Ü  ß"),
        batch_key("C 3709/C3"),
        "a~b",
        "100%25",
        "..",
        ".",
        "日本",
        "",
    ],
)
def test_every_key_round_trips_through_its_segment(key):
    segment = key_to_segment(key)
    assert "/" not in segment and "%" not in segment and " " not in segment
    assert segment.isascii()
    assert segment_to_key(segment) == key


def test_a_segment_keeps_what_is_safe_and_escapes_the_rest():
    assert key_to_segment("botox 50/100") == "botox~2050~2F100"
    assert key_to_segment("ü") == "~C3~BC"
    assert key_to_segment("..") == "~2E~2E"
    assert key_to_segment("a.b") == "a.b"


@pytest.mark.parametrize(
    "segment",
    ["botox 50", "~2f", "~ZZ", "~C3", "a~", "%2F", "~41", "~~", "a/b", "ü", "..", "a~2Eb"],
)
def test_anything_but_the_exact_segment_names_no_batch(segment):
    assert segment_to_key(segment) is None
