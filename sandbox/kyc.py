"""KYC (本人確認) provider sandbox: submit an identity check, get the result by webhook later.

    POST /checks         {"applicant_ref", "name", "birth_date"?, "document_type"?, "callback_url"?,
                          "sandbox_outcome"?: "approved" | "rejected"}   -> 202 {"id", "status": "pending"}
    GET  /checks/{id}    the check (pending, approved or rejected, with reasons)
    GET  /checks?idempotency_key=K  (or ?applicant_ref=)   {"data": [...]}

POST needs an `Idempotency-Key`. `result_delay_ms` after submission the check is decided (run-time
config `outcome`, or the request's `sandbox_outcome`) and a signed `check.completed` webhook is sent.
Run-time config: webhook_url, result_delay_ms, outcome, reject_reasons.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.base import ApiError, ProviderConfig, SandboxProvider
from sandbox.webhooks import utc_now

OUTCOMES = ("approved", "rejected")
DOCUMENT_TYPES = ("drivers_license", "my_number_card", "passport", "residence_card", "health_insurance_card")


@dataclass
class KycConfig(ProviderConfig):
    """KYC run-time settings."""

    result_delay_ms: int = 300
    outcome: str = "approved"
    reject_reasons: list[str] = field(default_factory=lambda: ["document_unreadable"])


class KycSandbox(SandboxProvider):
    """Identity checks and their results."""

    name = "kyc"
    config_class = KycConfig

    def clear(self) -> None:
        """No checks."""
        self.checks: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[Route]:
        """The KYC API."""
        return [
            Route("/checks", self.submit, methods=["POST"]),
            Route("/checks", self.find_checks, methods=["GET"]),
            Route("/checks/{check_id}", self.get_check, methods=["GET"]),
        ]

    async def submit(self, request: Request) -> Response:
        """Start an identity check once per Idempotency-Key."""
        return await self.idempotent(request, self._submit)

    def _submit(self, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        for name in ("applicant_ref", "name"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise ApiError(400, f"{name}_required", f"{name} is required")
        document_type = body.get("document_type", "drivers_license")
        if document_type not in DOCUMENT_TYPES:
            raise ApiError(400, "invalid_document_type", f"document_type must be one of {', '.join(DOCUMENT_TYPES)}")
        outcome = body.get("sandbox_outcome", self.config.outcome)
        if outcome not in OUTCOMES:
            raise ApiError(400, "invalid_outcome", "sandbox_outcome must be approved or rejected")
        check = {"id": "kyc_" + secrets.token_hex(10), "applicant_ref": body["applicant_ref"], "name": body["name"],
                 "birth_date": body.get("birth_date"), "document_type": document_type, "status": "pending",
                 "reasons": [], "idempotency_key": key, "submitted_at": utc_now(), "completed_at": None}
        self.checks[check["id"]] = check
        self.record_effect("submit", key, check["id"], check_id=check["id"], applicant_ref=check["applicant_ref"])
        callback_url = body.get("callback_url")
        self.later(self.config.result_delay_ms / 1000, lambda: self._decide(check["id"], outcome, callback_url))
        return 202, dict(check)

    def _decide(self, check_id: str, outcome: str, callback_url: str | None) -> None:
        check = self.checks[check_id]
        check.update(status=outcome, completed_at=utc_now(),
                     reasons=list(self.config.reject_reasons) if outcome == "rejected" else [])
        self.record_effect("decide", check["idempotency_key"], check_id, check_id=check_id, result=outcome)
        self.emit("check.completed", check_id, {"check_id": check_id, "applicant_ref": check["applicant_ref"],
                                                "result": outcome, "reasons": check["reasons"],
                                                "completed_at": check["completed_at"]}, callback_url)

    async def get_check(self, request: Request) -> JSONResponse:
        """One check (404 if unknown)."""
        check = self.checks.get(request.path_params["check_id"])
        if check is None:
            return JSONResponse({"error": "check_not_found", "message": "no such check"}, status_code=404)
        return JSONResponse(check)

    async def find_checks(self, request: Request) -> JSONResponse:
        """Checks filtered by ?idempotency_key= and/or ?applicant_ref=."""
        key, ref = request.query_params.get("idempotency_key"), request.query_params.get("applicant_ref")
        found = [c for c in self.checks.values()
                 if (key is None or c["idempotency_key"] == key) and (ref is None or c["applicant_ref"] == ref)]
        return JSONResponse({"data": found})
