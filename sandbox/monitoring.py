"""Network monitoring sandbox: outage (障害) and maintenance (メンテナンス) events, pushed to subscribers.

    POST /_sandbox/events          admin: {"kind": "outage" | "maintenance", "title", "description"?,
                                   "services"?: [...], "areas"?: [...], "starts_at"?, "ends_at"?, "status"?}
                                   -> 201; webhook `event.created`
    POST /_sandbox/events/{id}     admin: change {"status"?, "description"?, "ends_at"?}; webhook `event.updated`,
                                   or `event.resolved` when the status becomes resolved / completed
    GET  /events                   every event (?status=, ?kind= filter)      GET /events/{id}  one event
    POST /subscriptions            {"url"} -> 201 {"id", "url"}; webhooks go to every subscriber and to the
    GET  /subscriptions            configured webhook URL                      DELETE /subscriptions/{id}

Statuses: outage investigating -> identified -> resolved; maintenance scheduled -> in_progress -> completed.
Webhooks carry a sequence per event id. Run-time config: webhook_url.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.base import ApiError, SandboxProvider, read_json
from sandbox.webhooks import utc_now

STATUSES = {"outage": ("investigating", "identified", "resolved"),
            "maintenance": ("scheduled", "in_progress", "completed")}
FINAL = {"resolved", "completed"}


def _string_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"invalid_{name}", f"{name} must be a list of strings")
    return value


class MonitoringSandbox(SandboxProvider):
    """Outage and maintenance events and their subscribers."""

    name = "monitoring"

    def clear(self) -> None:
        """No events, no subscribers."""
        self.events: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[Route]:
        """The monitoring API and its admin endpoints."""
        return [
            Route("/_sandbox/events", self.create_event, methods=["POST"]),
            Route("/_sandbox/events/{event_id}", self.update_event, methods=["POST"]),
            Route("/events", self.list_events, methods=["GET"]),
            Route("/events/{event_id}", self.get_event, methods=["GET"]),
            Route("/subscriptions", self.subscribe, methods=["POST"]),
            Route("/subscriptions", self.list_subscriptions, methods=["GET"]),
            Route("/subscriptions/{subscription_id}", self.unsubscribe, methods=["DELETE"]),
        ]

    def _notify(self, event_type: str, event: dict[str, Any]) -> None:
        urls = [self.config.webhook_url] + [s["url"] for s in self.subscriptions.values()]
        self.webhooks.emit(event_type, event["id"], dict(event), urls)

    async def create_event(self, request: Request) -> JSONResponse:
        """Admin: open an outage or announce a maintenance, and notify subscribers."""
        try:
            body = await read_json(request)
            kind = body.get("kind")
            if kind not in STATUSES:
                raise ApiError(400, "invalid_kind", "kind must be outage or maintenance")
            if not isinstance(body.get("title"), str) or not body["title"].strip():
                raise ApiError(400, "title_required", "title is required")
            status = body.get("status", STATUSES[kind][0])
            if status not in STATUSES[kind]:
                raise ApiError(400, "invalid_status", f"status must be one of {', '.join(STATUSES[kind])}")
            services, areas = _string_list(body, "services"), _string_list(body, "areas")
        except ApiError as exc:
            return exc.response()
        now = utc_now()
        event = {"id": "mon_" + secrets.token_hex(8), "kind": kind, "status": status, "title": body["title"],
                 "description": body.get("description"), "services": services, "areas": areas,
                 "starts_at": body.get("starts_at") or now, "ends_at": body.get("ends_at"),
                 "created_at": now, "updated_at": now}
        self.events[event["id"]] = event
        self.record_effect("create_event", None, event["id"], kind=kind, status=status)
        self._notify("event.created", event)
        return JSONResponse(event, status_code=201)

    async def update_event(self, request: Request) -> JSONResponse:
        """Admin: move an event on (status, description, ends_at) and notify subscribers."""
        event = self.events.get(request.path_params["event_id"])
        try:
            if event is None:
                raise ApiError(404, "event_not_found", "no such event")
            body = await read_json(request)
            unknown = set(body) - {"status", "description", "ends_at"}
            if unknown:
                raise ApiError(400, "invalid_fields", f"cannot change {sorted(unknown)}")
            if "status" in body and body["status"] not in STATUSES[event["kind"]]:
                raise ApiError(400, "invalid_status", f"status must be one of {', '.join(STATUSES[event['kind']])}")
        except ApiError as exc:
            return exc.response()
        event.update(body, updated_at=utc_now())
        if event["status"] in FINAL and not event["ends_at"]:
            event["ends_at"] = event["updated_at"]
        self.record_effect("update_event", None, event["id"], status=event["status"])
        self._notify("event.resolved" if event["status"] in FINAL else "event.updated", event)
        return JSONResponse(event)

    async def list_events(self, request: Request) -> JSONResponse:
        """Events, optionally filtered by ?status= and ?kind=."""
        q = request.query_params
        found = [e for e in self.events.values()
                 if (q.get("status") is None or e["status"] == q["status"]) and (q.get("kind") is None
                                                                                 or e["kind"] == q["kind"])]
        return JSONResponse({"events": found})

    async def get_event(self, request: Request) -> JSONResponse:
        """One event (404 if unknown)."""
        event = self.events.get(request.path_params["event_id"])
        if event is None:
            return JSONResponse({"error": "event_not_found", "message": "no such event"}, status_code=404)
        return JSONResponse(event)

    async def subscribe(self, request: Request) -> Response:
        """Add a webhook subscriber."""
        try:
            body = await read_json(request)
            url = body.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ApiError(400, "invalid_url", "url must be an http(s) URL")
        except ApiError as exc:
            return exc.response()
        for existing in self.subscriptions.values():
            if existing["url"] == url:
                return JSONResponse(existing)
        subscription = {"id": "sub_" + secrets.token_hex(6), "url": url, "created_at": utc_now()}
        self.subscriptions[subscription["id"]] = subscription
        return JSONResponse(subscription, status_code=201)

    async def list_subscriptions(self, request: Request) -> JSONResponse:
        """Every subscriber."""
        return JSONResponse({"subscriptions": list(self.subscriptions.values())})

    async def unsubscribe(self, request: Request) -> Response:
        """Remove a subscriber (404 if unknown)."""
        if self.subscriptions.pop(request.path_params["subscription_id"], None) is None:
            return JSONResponse({"error": "subscription_not_found", "message": "no such subscription"},
                                status_code=404)
        return Response(status_code=204)
