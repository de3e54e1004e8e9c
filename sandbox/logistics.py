"""Logistics sandbox: ship a SIM or a device, tracking events by webhook, returns.

    POST /shipments              {"order_ref", "item_type": "sim" | "device", "item_id" (ICCID 19-20 digits or
                                  IMEI 15 digits), "recipient": {"name", "postal_code", "address"}, "callback_url"?}
                                 -> 201 {"id", "tracking_number", "status": "accepted", ...}
    POST /shipments/{id}/return  {"reason"?, "callback_url"?}  after delivery -> 202 status return_requested
    GET  /shipments/{id}         the shipment with its tracking events
    GET  /shipments?idempotency_key=K  (or ?order_ref=)   {"data": [...]}

Every POST needs an `Idempotency-Key`. Every `step_delay_ms` the parcel moves on and a signed
`shipment.<status>` webhook is sent (sequence per shipment): picked_up, in_transit, delivered; after a
return request: return_in_transit, returned. Run-time config: webhook_url, step_delay_ms.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.base import ApiError, ProviderConfig, SandboxProvider
from sandbox.webhooks import utc_now

OUTBOUND_STEPS = ("picked_up", "in_transit", "delivered")
RETURN_STEPS = ("return_in_transit", "returned")
ITEM_ID = {"sim": re.compile(r"^\d{19,20}$"), "device": re.compile(r"^\d{15}$")}


@dataclass
class LogisticsConfig(ProviderConfig):
    """Logistics run-time settings."""

    step_delay_ms: int = 200


class LogisticsSandbox(SandboxProvider):
    """Shipments, their tracking and returns."""

    name = "logistics"
    config_class = LogisticsConfig

    def clear(self) -> None:
        """No shipments."""
        self.shipments: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[Route]:
        """The logistics API."""
        return [
            Route("/shipments", self.ship, methods=["POST"]),
            Route("/shipments", self.find_shipments, methods=["GET"]),
            Route("/shipments/{shipment_id}", self.get_shipment, methods=["GET"]),
            Route("/shipments/{shipment_id}/return", self.request_return, methods=["POST"]),
        ]

    def _advance(self, shipment_id: str, steps: tuple[str, ...], callback_url: str | None) -> None:
        """Schedule the next tracking step after `step_delay_ms`, one by one."""
        def step() -> None:
            shipment = self.shipments[shipment_id]
            status = steps[0]
            event = {"status": status, "at": utc_now()}
            shipment["status"] = status
            shipment["events"].append(event)
            self.emit(f"shipment.{status}", shipment_id, {
                "shipment_id": shipment_id, "tracking_number": shipment["tracking_number"],
                "order_ref": shipment["order_ref"], "item_type": shipment["item_type"],
                "item_id": shipment["item_id"], "status": status, "at": event["at"]}, callback_url)
            if len(steps) > 1:
                self._advance(shipment_id, steps[1:], callback_url)

        self.later(self.config.step_delay_ms / 1000, step)

    async def ship(self, request: Request) -> Response:
        """Accept a shipment once per Idempotency-Key."""
        return await self.idempotent(request, self._ship)

    def _ship(self, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        order_ref, item_type, item_id = body.get("order_ref"), body.get("item_type"), str(body.get("item_id") or "")
        if not isinstance(order_ref, str) or not order_ref.strip():
            raise ApiError(400, "order_ref_required", "order_ref is required")
        if item_type not in ITEM_ID:
            raise ApiError(400, "invalid_item_type", "item_type must be sim or device")
        if not ITEM_ID[item_type].match(item_id):
            raise ApiError(400, "invalid_item_id", "item_id must be an ICCID (19-20 digits) or an IMEI (15 digits)")
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not all(
                isinstance(recipient.get(k), str) and recipient[k].strip() for k in ("name", "postal_code", "address")):
            raise ApiError(400, "invalid_recipient", "recipient needs name, postal_code and address")
        shipment = {"id": "shp_" + secrets.token_hex(10), "tracking_number": str(secrets.randbelow(10**12)).zfill(12),
                    "order_ref": order_ref, "item_type": item_type, "item_id": item_id, "recipient": recipient,
                    "status": "accepted", "events": [{"status": "accepted", "at": utc_now()}],
                    "idempotency_key": key, "return_idempotency_key": None, "created_at": utc_now()}
        self.shipments[shipment["id"]] = shipment
        self.record_effect("ship", key, shipment["id"], shipment_id=shipment["id"], item_type=item_type,
                           item_id=item_id, order_ref=order_ref)
        self._advance(shipment["id"], OUTBOUND_STEPS, body.get("callback_url"))
        return 201, dict(shipment)

    async def request_return(self, request: Request) -> Response:
        """Start the return of a delivered item once per Idempotency-Key."""
        shipment_id = request.path_params["shipment_id"]
        return await self.idempotent(request, lambda body, key: self._return(shipment_id, body, key))

    def _return(self, shipment_id: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise ApiError(404, "shipment_not_found", "no such shipment")
        if shipment["status"] != "delivered":
            return 409, {"error": "not_returnable", "message": f"a shipment in status {shipment['status']} "
                         "cannot be returned", "shipment_id": shipment_id, "status": shipment["status"]}
        event = {"status": "return_requested", "at": utc_now(), "reason": body.get("reason")}
        shipment.update(status="return_requested", return_idempotency_key=key)
        shipment["events"].append(event)
        self.record_effect("return", key, shipment_id, shipment_id=shipment_id, item_id=shipment["item_id"])
        self.emit("shipment.return_requested", shipment_id, {
            "shipment_id": shipment_id, "tracking_number": shipment["tracking_number"],
            "order_ref": shipment["order_ref"], "status": "return_requested", "at": event["at"]},
            body.get("callback_url"))
        self._advance(shipment_id, RETURN_STEPS, body.get("callback_url"))
        return 202, dict(shipment)

    async def get_shipment(self, request: Request) -> JSONResponse:
        """One shipment (404 if unknown)."""
        shipment = self.shipments.get(request.path_params["shipment_id"])
        if shipment is None:
            return JSONResponse({"error": "shipment_not_found", "message": "no such shipment"}, status_code=404)
        return JSONResponse(shipment)

    async def find_shipments(self, request: Request) -> JSONResponse:
        """Shipments filtered by ?idempotency_key= (shipping or return key) and/or ?order_ref=."""
        key, ref = request.query_params.get("idempotency_key"), request.query_params.get("order_ref")
        found = [s for s in self.shipments.values()
                 if (key is None or key in (s["idempotency_key"], s["return_idempotency_key"]))
                 and (ref is None or s["order_ref"] == ref)]
        return JSONResponse({"data": found})
