"""What every HTTP response of the app carries, and what every request may be: one ASGI layer around it all.

- Security headers on every page and API response: a Content-Security-Policy that the app passes
  (scripts only from this origin plus the inline start-up scripts of the build, by hash; Reflex runs
  the scripts its server sends with eval, hence 'unsafe-eval'), frame-ancestors 'none',
  Referrer-Policy, nosniff, and HSTS when the request came over https.
- Limits on API requests (/api/...): the query string (414) and the body size (413, also for a chunked
  body that never said its length); JSON bodies are checked by services.platform.safe_json where they are read.
  Only the ticket-message routes that take files (UPLOAD_PATHS, POST) may send more: 3 files of 5 MB and the text,
  still read to that hard limit and refused beyond it with words about the files.
- Reflex's file-upload endpoint is closed: it takes files from anyone, with no session, no type check and no
  owner. Files come only through the ticket routes (telecom_app.ticket_uploads), which check all three.
- An access log line per request without any query string that could carry a secret (the websocket's
  per-tab token, a sign-in ticket, an SSO code).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse

from services.ledger.ticket_files import MAX_FILE_BYTES, MAX_FILES_PER_MESSAGE
from services.platform.config import plain_http_allowed, settings
from services.platform.safe_json import MAX_BODY_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_QUERY_BYTES = 4096
CLOSED_PATHS = ("/_upload",)
UPLOAD_PATHS = re.compile(r"/api/(?:my/tickets|my/tickets/[^/]+/messages|tickets/[^/]+/messages)")
UPLOAD_MAX_BODY_BYTES = MAX_FILES_PER_MESSAGE * MAX_FILE_BYTES + 256 * 1024  # the files, the text, the multipart
TOO_LARGE = "リクエストが大きすぎます。"
UPLOAD_TOO_LARGE = "添付ファイルが大きすぎます。1つ5MBまで、1回に3つまでです。"
_LOGGED_QUERY_PATHS = ("/admin", "/login")  # page paths whose query strings hold nothing secret (?page=, ?kind=)
_UNLOGGED_PATHS = ("/assets/", "/ping")  # the build's static files and the health check

access_log = logging.getLogger("telecom.access")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def _static_dir() -> Path:
    from reflex.utils import prerequisites
    from reflex_base import constants

    return prerequisites.get_web_dir() / constants.Dirs.STATIC


@lru_cache(maxsize=1)
def inline_script_hashes() -> tuple[str, ...]:
    """CSP hash sources of every inline script in the built pages (read once, after the build)."""
    found = set()
    for page in _static_dir().rglob("*.html"):
        for match in _INLINE_SCRIPT.finditer(page.read_bytes()):
            digest = base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode()
            found.add(f"'sha256-{digest}'")
    return tuple(sorted(found))


def content_security_policy() -> str:
    """The one policy of every response."""
    scripts = " ".join(("'self'", "'unsafe-eval'", *inline_script_hashes()))
    return "; ".join((
        "default-src 'self'", f"script-src {scripts}", "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:", "font-src 'self' data:", "connect-src 'self'",
        "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
    ))


def _trusted_proxy_hops() -> int:
    from reflex.config import get_config

    return get_config().trusted_proxy_hops


def request_scheme(scope: Scope) -> str:
    """http or https as the browser used it (X-Forwarded-Proto counts only behind trusted proxies)."""
    if _trusted_proxy_hops():
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-proto":
                return value.decode("latin-1").split(",")[0].strip().lower() or scope.get("scheme", "http")
    return "https" if scope.get("scheme") in ("https", "wss") else "http"


def request_host(scope: Scope) -> str:
    """The host the browser asked for, without the port."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            return host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return ""


def cookie_must_be_secure(scope: Scope) -> bool:
    """Session cookies are Secure unless the app is reached over plain http on this very machine."""
    return not plain_http_allowed(request_scheme(scope), request_host(scope))


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers added to every response of `scope`."""
    headers = [
        (b"content-security-policy", content_security_policy().encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if request_scheme(scope) == "https":
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def loggable_target(scope: Scope) -> str:
    """The request's path for the access log: query strings only where they never carry a secret."""
    path = scope.get("path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    if query and path.startswith(_LOGGED_QUERY_PATHS):
        return f"{path}?{query}"
    return path + ("?…" if query else "")


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


class HttpPolicy:
    """The ASGI layer around the whole app (pages, websocket, API routes)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                access_log.info("%s WS %s", _client(scope), loggable_target(scope))
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = {"code": 0}
        extra = security_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        try:
            refusal = _refusal(scope)
            if refusal is None and scope.get("path", "").startswith("/api/"):
                limit, words = body_limit(scope)
                receive, too_large = await _buffered(receive, limit)
                if too_large:
                    refusal = _refuse(413, "too_large", words)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            if not scope.get("path", "").startswith(_UNLOGGED_PATHS):
                access_log.info("%s %s %s %s %.0fms", _client(scope), scope.get("method", ""),
                                loggable_target(scope), status["code"], (time.monotonic() - started) * 1000)


def body_limit(scope: Scope) -> tuple[int, str]:
    """The most an API request's body may hold, and the words used when it holds more."""
    if scope.get("method") == "POST" and UPLOAD_PATHS.fullmatch(scope.get("path", "")):
        return UPLOAD_MAX_BODY_BYTES, UPLOAD_TOO_LARGE
    return MAX_BODY_BYTES, TOO_LARGE


def _refusal(scope: Scope) -> JSONResponse | None:
    path = scope.get("path", "")
    if path.startswith(CLOSED_PATHS):
        return _refuse(404, "not_found", "見つかりません。")
    if not path.startswith("/api/"):
        return None
    if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
        return _refuse(414, "uri_too_long", "URLが長すぎます。")
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            if not value.isdigit():
                return _refuse(400, "bad_length", "Content-Length が正しくありません。")
            limit, words = body_limit(scope)
            if int(value) > limit:
                return _refuse(413, "too_large", words)
    return None


async def _buffered(receive: Receive, limit: int = MAX_BODY_BYTES) -> tuple[Receive, bool]:
    """Read an API request's whole body first (at most `limit` bytes), whatever its Content-Length said.

    Returns a `receive` that replays it, and whether the body went past the limit.
    """
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive, False
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return receive, True
        if not message.get("more_body", False):
            break
    replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replayed() -> Message:
        return replay.pop() if replay else await receive()

    return replayed, False


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "-"


def install_access_log() -> None:
    """Write the access log to stdout (once per process), unless TELECOM_ACCESS_LOG=0."""
    if not settings.access_log or access_log.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s access %(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
