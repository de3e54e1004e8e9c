"""HTTP routes served on the app's own port beside the Reflex app (session cookie handling)."""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from services import auth
from services.config import settings
from services.errors import DomainError
from state.base import SESSION_COOKIE


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def complete_sign_in(request: Request) -> RedirectResponse:
    """Exchange the one-time sign-in ticket for a session and set the HttpOnly cookie."""
    ticket = request.query_params.get("ticket", "")
    try:
        token = auth.redeem_ticket(ticket, client_ip=_client_ip(request))
    except DomainError:
        return RedirectResponse("/login?expired=1", status_code=303)
    response = RedirectResponse("/admin/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure,
        path="/", max_age=settings.session_absolute_hours * 3600,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def sign_out(request: Request) -> RedirectResponse | PlainTextResponse:
    """End the session (server side first), then clear the cookie."""
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.headers.get("host"):
        return PlainTextResponse("forbidden", status_code=403)
    auth.sign_out(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def build_api() -> Starlette:
    """The Starlette app Reflex mounts itself under (our routes match first)."""
    return Starlette(routes=[
        Route("/api/auth/complete", complete_sign_in, methods=["GET"]),
        Route("/api/auth/signout", sign_out, methods=["POST"]),
    ])
