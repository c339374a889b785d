"""Secrets handed to a browser or a client and kept only as a hash.

Session cookies, API tokens, personal links and recovery codes all work the same way: the holder
gets the secret, the database keeps its SHA-256, so a leaked database opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """A fresh random secret for a cookie or a bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def stored_hash(secret: str) -> str:
    """What the database keeps of `secret`: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
