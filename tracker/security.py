"""HTTP security: headers that protect health data, the CSRF and origin checks, the proxy."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response, current_app, request
from flask_wtf import CSRFProtect
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

SAME_SITE_FETCHES = {"same-origin", "none"}
"""`Sec-Fetch-Site` values of a form this site served, or of the user's own navigation."""


def add_security_headers(response: Response) -> Response:
    """CSP, no sniffing, no referrer, no framing; nothing but static files may be cached."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
        )
    return response


def cross_origin_problem(headers: Mapping[str, str], own_origin: str) -> str | None:
    """Why a state-changing request looks cross-site, or None when it may go on to the token check.

    Browsers tell where a request comes from in `Sec-Fetch-Site` (every current browser) and
    `Origin`. With our `Referrer-Policy: no-referrer`, a form POST carries `Origin: null` and no
    `Referer`, so neither of those can prove a request same-origin; `Sec-Fetch-Site` can, and
    wins when present. A request with neither header (an old browser, a script) still needs the
    CSRF token, which only a page of this site can hold.
    """
    fetch_site = headers.get("Sec-Fetch-Site")
    if fetch_site:
        if fetch_site.lower() in SAME_SITE_FETCHES:
            return None
        return f"Sec-Fetch-Site is {fetch_site!r}"
    origin = headers.get("Origin")
    if origin and origin != "null" and origin.rstrip("/").lower() != own_origin.lower():
        return f"Origin {origin!r} is not {own_origin!r}"
    return None


class OriginCheckingCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF token check, preceded by a check of where the request comes from."""

    def protect(self, apply_exemptions: bool = False) -> None:
        super().protect(apply_exemptions=apply_exemptions)  # the token; skips exempt views
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        if apply_exemptions and (not request.endpoint or self._is_exempt()):
            return  # the token-only API (Flask-WTF 1.3's own exemption test)
        problem = cross_origin_problem(request.headers, request.host_url.rstrip("/"))
        if problem:
            raise CSRFError(f"The request did not come from this site ({problem}).")


def trust_proxies(app: Flask) -> None:
    """Take the client's address, scheme, host and port from `TRUSTED_PROXIES` proxy hops.

    Each trusted proxy appends one hop to `X-Forwarded-*`; only that many hops from the right
    are believed, so a client cannot pass itself off as another by sending its own headers.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
