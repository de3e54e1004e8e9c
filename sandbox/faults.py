"""Fault injection shared by every sandbox provider, switchable at run time.

`POST /_sandbox/faults` (JSON, partial update) sets:

- latency_ms: delay before every API request is handled;
- error_rate (0..1): answer 500/502/503 without running the handler, so nothing happens;
- timeout_after_commit_rate (0..1): run a mutating request (the effect is committed), then withhold
  the answer and stall until the client gives up (or `stall_seconds`, then 504): the caller cannot know;
- stall_seconds: how long such a stall lasts at most (default 30);
- duplicate_webhooks: deliver every webhook twice (same event id, same signed body);
- reorder_webhooks / reorder_window_ms: hold webhooks for the window, then deliver them shuffled;
- down_for_seconds: answer 503 (with Retry-After) to every API request for that many seconds;
- seed: reseed the random draws, so a test gets the same sequence of faults every run.

Admin paths (`/_sandbox/...`) and each provider's inspection pages are never faulted.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

RATE_FIELDS = ("error_rate", "timeout_after_commit_rate")
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class FaultConfigError(ValueError):
    """A fault setting was unknown or out of range."""


@dataclass
class FaultSettings:
    """The switches; every field may be changed at run time."""

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_after_commit_rate: float = 0.0
    stall_seconds: float = 30.0
    duplicate_webhooks: bool = False
    reorder_webhooks: bool = False
    reorder_window_ms: int = 300


class Faults:
    """Current fault settings, the down-until deadline and the seeded random draws."""

    def __init__(self) -> None:
        self.settings = FaultSettings()
        self.down_until = 0.0  # time.monotonic() deadline
        self.seed: int | None = None
        self.rng = random.Random()  # request faults
        self.webhook_rng = random.Random()  # webhook delays and order
        self.closing = asyncio.Event()  # set at shutdown: stalled requests give up at once

    def reset(self, seed: int | None = None) -> None:
        """Back to no faults; reseed the draws (unseeded when `seed` is None)."""
        self.settings = FaultSettings()
        self.down_until = 0.0
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Restart both random streams from `seed`."""
        self.seed = seed
        self.rng = random.Random(seed)
        self.webhook_rng = random.Random(None if seed is None else seed + 1)

    def configure(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; raises FaultConfigError and changes nothing if any field is invalid."""
        if not isinstance(changes, dict):
            raise FaultConfigError("expected a JSON object")
        known = {f.name: f.type for f in fields(FaultSettings)} | {"down_for_seconds": "float", "seed": "int"}
        unknown = set(changes) - set(known)
        if unknown:
            raise FaultConfigError(f"unknown fault settings: {sorted(unknown)}")
        updated = FaultSettings(**asdict(self.settings))
        for name, value in changes.items():
            if name in ("down_for_seconds", "seed"):
                continue
            setattr(updated, name, _coerce(name, known[name], value))
        down_for = changes.get("down_for_seconds")
        if down_for is not None:
            down_for = _coerce("down_for_seconds", "float", down_for)
        seed = changes.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultConfigError("seed must be an integer or null")
        self.settings = updated
        if down_for is not None:
            self.down_until = time.monotonic() + down_for if down_for > 0 else 0.0
        if "seed" in changes:
            self.reseed(seed)

    def down_remaining(self) -> float:
        """Seconds the provider still answers 503 (0 when up)."""
        return max(0.0, self.down_until - time.monotonic())

    def snapshot(self) -> dict[str, Any]:
        """The settings as JSON, with the remaining down time and the seed."""
        return asdict(self.settings) | {"down_remaining_seconds": round(self.down_remaining(), 3),
                                        "seed": self.seed}

    def draw(self) -> tuple[int | None, bool]:
        """Decide one request's fate: (injected 5xx status or None, stall after commit?).

        Always consumes the same number of draws, so a seeded run is reproducible.
        """
        s = self.settings
        error_draw, timeout_draw, status_draw = self.rng.random(), self.rng.random(), self.rng.random()
        status = None
        if error_draw < s.error_rate:
            status = (500, 502, 503)[min(2, int(status_draw * 3))]
        return status, timeout_draw < s.timeout_after_commit_rate


def _coerce(name: str, kind: str, value: Any) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise FaultConfigError(f"{name} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FaultConfigError(f"{name} must be a number")
    if value < 0:
        raise FaultConfigError(f"{name} must not be negative")
    if name in RATE_FIELDS and value > 1:
        raise FaultConfigError(f"{name} must be between 0 and 1")
    return int(value) if kind == "int" else float(value)


async def _json(send, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class FaultMiddleware:
    """ASGI middleware applying a provider's `Faults` to every request but admin and inspection paths."""

    def __init__(self, app, faults: Faults, exempt_paths: frozenset[str] = frozenset()):
        self.app = app
        self.faults = faults
        self.exempt_paths = exempt_paths

    def _exempt(self, path: str) -> bool:
        return path.startswith("/_sandbox/") or path in self.exempt_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self._exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        faults = self.faults
        remaining = faults.down_remaining()
        if remaining > 0:
            await _json(send, 503, {"error": "provider_down", "message": "sandbox fault: down_for_seconds"},
                        {"retry-after": str(math.ceil(remaining))})
            return
        status, stall = faults.draw()
        if faults.settings.latency_ms:
            await asyncio.sleep(faults.settings.latency_ms / 1000)
        if status is not None:
            await _json(send, status, {"error": "injected_fault", "message": "sandbox fault: error_rate"})
            return
        if not (stall and scope["method"] in MUTATING_METHODS):
            await self.app(scope, receive, send)
            return
        # Timeout after commit: let the handler commit its effect, swallow the answer, stall.
        async def swallow(message) -> None:
            return None

        await self.app(scope, receive, swallow)
        if await _stall(receive, faults.settings.stall_seconds, faults.closing):
            await _json(send, 504, {"error": "stalled", "message": "sandbox fault: timeout_after_commit"})


async def _stall(receive, seconds: float, closing: asyncio.Event) -> bool:
    """Wait until the client goes away, the server closes or `seconds` pass; True only in the last case."""
    async def until_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    waiters = [asyncio.ensure_future(until_disconnect()), asyncio.ensure_future(closing.wait())]
    done, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return not done
