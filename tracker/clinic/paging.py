"""Page numbers of the clinic's paged lists, read from the query string before any query runs."""

from __future__ import annotations

from flask import abort, request

from ..infrastructure.database import MAX_ID

MAX_PAGE = MAX_ID
"""No list can have more pages than its table can have ids: past that, the number is refused
before it reaches an OFFSET (a 20-digit number overflows SQLite's and PostgreSQL's integers)."""


def page_number() -> int:
    """The `page` parameter: 1 when absent, not a number or below 1; 404 past any possible page."""
    number = request.args.get("page", 1, type=int)
    if number > MAX_PAGE:
        abort(404)
    return max(number, 1)
