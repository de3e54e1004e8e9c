"""What every sandbox provider shares: admin API, fault middleware, idempotency keys, effects log, webhooks.

Admin API on every provider (never faulted):

    GET  /_sandbox/health            {"provider", "ok"}
    GET  /_sandbox/faults            current fault settings        POST: partial update (see sandbox.faults)
    POST /_sandbox/reset             back to the start state: no faults, no data, logs empty ({"seed"} optional)
    GET  /_sandbox/log               effects actually applied (filter by any field: ?operation=suspend&msisdn=...;
                                     ?limit=N keeps the last N; `count` is the number that matched)
    GET  /_sandbox/webhooks          events emitted and every delivery attempt
    GET  /_sandbox/config            run-time settings (webhook_url, delays, outcomes) POST: partial update

Every mutating provider call takes an `Idempotency-Key` header: the first result is kept under the key and
replayed (header `Idempotent-Replayed: true`) for the same request; the same key with another request is
refused with 422; the effect is never applied twice. Validation errors (400/404) are not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import html
import json
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sandbox.faults import FaultConfigError, FaultMiddleware, Faults
from sandbox.webhooks import WebhookSender, utc_now

# Port order of the runner: provider i listens on base_port + i, the messaging SMTP server on base_port + 7.
PROVIDER_NAMES = ("carrier", "payment", "bank", "kyc", "logistics", "messaging", "monitoring")
IDEMPOTENCY_HEADER = "Idempotency-Key"
JST = timezone(timedelta(hours=9), "JST")


@dataclass
class ProviderSettings:
    """How the runner starts a provider: where its webhooks go and the secret that signs them.

    Without a secret given, the provider signs with a random one of its own (nothing well known)."""

    webhook_url: str | None = None
    webhook_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    public_url: str = ""


@dataclass
class ProviderConfig:
    """Run-time settings every provider has; providers extend it with their own fields."""

    webhook_url: str | None = None


class ApiError(Exception):
    """A request the provider refuses without effect (not kept under an idempotency key)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        """The error as JSON."""
        return error_response(self.status, self.code, self.message)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """A JSON error body {"error", "message"}."""
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty); ApiError 400 otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "body must be a JSON object")
    return body


def report_date(request: Request) -> date:
    """The `date` query parameter (YYYY-MM-DD, Asia/Tokyo day), today in Tokyo when absent."""
    value = request.query_params.get("date")
    if not value:
        return datetime.now(JST).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_date", "date must be YYYY-MM-DD") from None


def jst_day(timestamp: datetime) -> date:
    """The Asia/Tokyo calendar day of an aware datetime."""
    return timestamp.astimezone(JST).date()


def jst_text(iso_timestamp: str | None) -> str:
    """An ISO 8601 timestamp shown as Asia/Tokyo local time (YYYY-MM-DD HH:MM:SS)."""
    if not iso_timestamp:
        return ""
    return datetime.fromisoformat(iso_timestamp).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


FAULT_LABELS = {
    "latency_ms": "遅延 (ms)", "error_rate": "エラー率", "timeout_after_commit_rate": "反映後タイムアウト率",
    "stall_seconds": "タイムアウト時の待機 (秒)", "duplicate_webhooks": "Webhook 重複送信",
    "reorder_webhooks": "Webhook 順序入れ替え", "reorder_window_ms": "入れ替え幅 (ms)",
    "down_remaining_seconds": "停止中 残り (秒)", "seed": "乱数シード",
}


def faults_table(snapshot: dict[str, Any]) -> str:
    """The current fault settings as a small table with Japanese labels."""
    return html_table(["障害注入", "設定値"], [[FAULT_LABELS.get(k, k), v] for k, v in snapshot.items()])


def html_page(title: str, body: str, refresh_seconds: int | None = 5) -> HTMLResponse:
    """A small Japanese demo page around `body` (already escaped HTML)."""
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds else ""
    return HTMLResponse(
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8">{refresh}<title>{html.escape(title)}</title>'
        "<style>body{font-family:sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;"
        "margin-bottom:1.5rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}"
        "th{background:#f3f3f3}code{font-size:.85rem}.muted{color:#777}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def html_table(headers: list[str], rows: list[list[Any]], empty: str = "なし") -> str:
    """An escaped HTML table; `empty` is shown when there are no rows."""
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class _KeptResult:
    fingerprint: str
    status: int
    payload: dict[str, Any]
    at: str = field(default_factory=utc_now)


def _coerce_config(name: str, kind: str, value: Any) -> Any:
    optional = "None" in kind
    if value is None:
        if optional:
            return None
        raise ApiError(400, "invalid_config", f"{name} must not be null")
    base = kind.replace("| None", "").strip()
    if base == "bool":
        ok = isinstance(value, bool)
    elif base in ("int", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        value = int(value) if ok and base == "int" else value
    elif base == "str":
        ok = isinstance(value, str)
    elif base.startswith("list"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = False
    if not ok:
        raise ApiError(400, "invalid_config", f"{name} must be {kind}")
    return value


class SandboxProvider:
    """Base of every provider: state reset, admin routes, idempotency, effects log, webhooks, the app."""

    name = "provider"
    sends_webhooks = True
    config_class: type[ProviderConfig] = ProviderConfig
    exempt_paths: frozenset[str] = frozenset()  # inspection pages that faults never touch

    def __init__(self, settings: ProviderSettings | None = None):
        self.settings = settings or ProviderSettings()
        self.faults = Faults()
        self.tasks: set[asyncio.Task] = set()
        self.webhooks = WebhookSender(self.name, self.settings.webhook_secret, self.faults, self.spawn)
        self.initial_config = self.config_class(webhook_url=self.settings.webhook_url)
        self.reset()

    # -- state --

    def reset(self, seed: int | None = None) -> None:
        """Cancel pending work and return to the start state (config, faults, data, logs)."""
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        self.config = replace(self.initial_config)
        self.faults.reset(seed)
        self.effects: list[dict[str, Any]] = []
        self.kept: dict[str, _KeptResult] = {}
        self.webhooks.reset()
        self.clear()

    def clear(self) -> None:
        """Provider-specific data back to empty (overridden)."""

    def routes(self) -> list[Route]:
        """Provider-specific routes (overridden)."""
        return []

    async def startup(self) -> None:
        """Start extra servers (overridden, e.g. SMTP)."""

    async def shutdown(self) -> None:
        """Stop extra servers (overridden)."""

    # -- helpers for providers --

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run `coro` in the background; reset and shutdown cancel it."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def later(self, delay_seconds: float, action: Callable[[], Any]) -> asyncio.Task:
        """Call `action` after `delay_seconds` in the background."""
        async def run() -> None:
            await asyncio.sleep(delay_seconds)
            action()

        return self.spawn(run())

    def record_effect(self, operation: str, idempotency_key: str | None, subject: str,
                      **details: Any) -> dict[str, Any]:
        """Append one applied effect to the effects log."""
        entry = {"seq": len(self.effects) + 1, "at": utc_now(), "provider": self.name, "operation": operation,
                 "idempotency_key": idempotency_key, "subject": subject} | details
        self.effects.append(entry)
        return entry

    def emit(self, event_type: str, subject: str, data: dict[str, Any],
             callback_url: str | None = None) -> dict[str, Any]:
        """Send a signed webhook to the request's callback URL, else to the configured one."""
        return self.webhooks.emit(event_type, subject, data, [callback_url or self.config.webhook_url])

    async def idempotent(self, request: Request,
                         operation: Callable[[dict[str, Any], str], tuple[int, dict[str, Any]]]) -> Response:
        """Run `operation(body, key)` once per Idempotency-Key; replay its (status, payload) afterwards.

        `operation` must not await, so checking the key and applying the effect are one atomic step.
        """
        try:
            key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
            if not key or len(key) > 255:
                raise ApiError(400, "idempotency_key_required",
                               f"the {IDEMPOTENCY_HEADER} header is required (1-255 characters)")
            body = await read_json(request)
            canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            fingerprint = hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()
            kept = self.kept.get(key)
            if kept is not None:
                if kept.fingerprint != fingerprint:
                    raise ApiError(422, "idempotency_key_reused",
                                   "this Idempotency-Key was used for a different request")
                return JSONResponse(kept.payload, status_code=kept.status, headers={"Idempotent-Replayed": "true"})
            status, payload = operation(body, key)
        except ApiError as exc:
            return exc.response()
        self.kept[key] = _KeptResult(fingerprint, status, copy.deepcopy(payload))
        return JSONResponse(payload, status_code=status)

    # -- admin endpoints --

    async def _health(self, request: Request) -> JSONResponse:
        return JSONResponse({"provider": self.name, "ok": True})

    async def _faults(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                self.faults.configure(await read_json(request))
            except ApiError as exc:
                return exc.response()
            except FaultConfigError as exc:
                return error_response(400, "invalid_faults", str(exc))
        return JSONResponse(self.faults.snapshot())

    async def _reset(self, request: Request) -> JSONResponse:
        try:
            body = await read_json(request)
        except ApiError as exc:
            return exc.response()
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            return error_response(400, "invalid_seed", "seed must be an integer or null")
        self.reset(seed)
        return JSONResponse({"provider": self.name, "reset": True, "faults": self.faults.snapshot()})

    async def _log(self, request: Request) -> JSONResponse:
        filters = {k: v for k, v in request.query_params.items() if k != "limit"}
        entries = [e for e in self.effects if all(str(e.get(k)) == v for k, v in filters.items())]
        limit = request.query_params.get("limit", "")
        shown = entries[-int(limit):] if limit.isdigit() and int(limit) > 0 else entries
        return JSONResponse({"provider": self.name, "count": len(entries), "entries": shown})

    async def _webhooks(self, request: Request) -> JSONResponse:
        return JSONResponse({"provider": self.name, "events": self.webhooks.events,
                             "deliveries": self.webhooks.deliveries})

    async def _config(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                changes = await read_json(request)
                kinds = {f.name: f.type for f in fields(self.config_class)}
                unknown = set(changes) - set(kinds)
                if unknown:
                    raise ApiError(400, "invalid_config", f"unknown settings: {sorted(unknown)}")
                coerced = {k: _coerce_config(k, str(kinds[k]), v) for k, v in changes.items()}
                self.config = replace(self.config, **coerced)
            except ApiError as exc:
                return exc.response()
        return JSONResponse(asdict(self.config))

    async def _index(self, request: Request) -> JSONResponse:
        endpoints = sorted(f"{' '.join(sorted(r.methods - {'HEAD'}))} {r.path}" for r in self.app_routes
                           if isinstance(r, Route) and r.methods)
        return JSONResponse({"provider": self.name, "endpoints": endpoints})

    # -- the application --

    def app(self) -> Starlette:
        """The provider's Starlette app, wrapped in its fault middleware."""
        own = self.routes()
        admin = [
            Route("/_sandbox/health", self._health, methods=["GET"]),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST"]),
            Route("/_sandbox/reset", self._reset, methods=["POST"]),
            Route("/_sandbox/log", self._log, methods=["GET"]),
            Route("/_sandbox/webhooks", self._webhooks, methods=["GET"]),
            Route("/_sandbox/config", self._config, methods=["GET", "POST"]),
        ]
        if not any(r.path == "/" for r in own):
            admin.append(Route("/", self._index, methods=["GET"]))
        self.app_routes = own + admin

        @contextlib.asynccontextmanager
        async def lifespan(app):
            await self.startup()
            try:
                yield
            finally:
                await self.shutdown()
                for task in list(self.tasks):
                    task.cancel()
                await self.webhooks.close()

        app = Starlette(routes=self.app_routes, lifespan=lifespan)
        app.add_middleware(FaultMiddleware, faults=self.faults, exempt_paths=self.exempt_paths | {"/"})
        return app
