"""How a product and a batch number are told apart: one batch is one batch however it is typed.

A batch is keyed by its product and its batch (lot) number, each normalised for case and
spacing: "Botox", "BOTOX" and " botox " are one product; "C 3709 C3" and "c3709c3" one batch
number (lot numbers are printed with and without spaces, never with meaningful ones). Other
characters (dashes, dots) are kept: they may tell two lots apart.
"""

from __future__ import annotations


def tidy(text: str) -> str:
    """`text` as it is shown: trimmed, with each run of white space one space."""
    return " ".join((text or "").split())


def product_key(product: str) -> str:
    """The product's key: its tidy name, case folded."""
    return tidy(product).casefold()


def batch_key(batch_number: str) -> str:
    """The batch number's key: without any white space, in capitals."""
    return "".join((batch_number or "").split()).upper()
