"""Payment gateway sandbox: charges and refunds in JPY, signed webhooks, a daily settlement report.

    POST /charges                 {"amount", "customer_ref", "currency"?: "JPY", "description"?,
                                   "payment_method"?: "pm_card_ok" | "pm_card_declined" | a registered card's
                                   pm_... (sandbox.card_setup), "callback_url"?}
                                  201 succeeded, or 402 failed (card_declined); both are effects
    POST /charges/{id}/refunds    {"amount"? (default: what is left), "reason"?, "callback_url"?}  201
    GET  /charges/{id}            one charge with its refunds
    GET  /charges?idempotency_key=K   the charge created under that key ({"data": [...]}, also ?customer_ref=)
    GET  /refunds?idempotency_key=K   the refund created under that key ({"data": [...]}, also ?charge_id=)
    GET  /refunds/{id}            one refund
    GET  /reports/settlement?date=YYYY-MM-DD   CSV of the Tokyo day's succeeded charges and refunds with fees

Hosted checkout (決済ページ: the customer types the card on the gateway's page, never in the product):

    POST /checkout/sessions       {"amount", "currency"?: "JPY", "description"?, "customer_ref"?,
                                   "client_reference_id"?, "success_url", "cancel_url"}  201 {"id", "url", ...}
    GET  /checkout/sessions/{id}  one session (status open | complete | expired)
    GET  /checkout/sessions?idempotency_key=K   the session created under that key (also ?client_reference_id=)
    POST /checkout/sessions/{id}/expire          close an open session (nothing can be paid on it any more)
    GET  /checkout/pay/{id}       the page (Japanese, phone first): a card number and 「支払う」
    POST /checkout/pay/{id}       pay: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined
                                  (4000 0000 0000 9995: insufficient funds); success takes the money as a
                                  charge, sends `checkout.completed` and answers 303 to the success URL

A session is open for `checkout_lifetime_seconds` (then expired); paying a completed session again only
returns to the success URL. The page and its form are faulted like every API path (a gateway outage takes
its payment page down too). A paid session's charge is in the settlement report as type "checkout" under
the session's idempotency key, and can be refunded like any charge. Registering a card for later charges (the
page in setup mode, `setup.completed`) is sandbox.card_setup's.

Every POST to the API needs an `Idempotency-Key`. Webhooks: charge.succeeded, charge.failed, refund.succeeded,
checkout.completed, setup.completed (`webhook_delay_ms` after the call; sequence per charge / session). The fee
is 3.6 % of a charge, rounded down; refunds carry no fee. Run-time config: webhook_url, webhook_delay_ms,
checkout_lifetime_seconds.
"""

from __future__ import annotations

import copy
import csv
import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox import checkout_page
from sandbox.base import ApiError, ProviderConfig, SandboxProvider, jst_day, report_date
from sandbox.card_setup import CardSetupMixin
from sandbox.webhooks import utc_now

MAX_AMOUNT = 99_999_999
FEE_PER_MILLE = 36
DECLINING_METHODS = {"pm_card_declined": "card_declined", "pm_insufficient_funds": "insufficient_funds"}


@dataclass
class PaymentConfig(ProviderConfig):
    """Payment gateway run-time settings."""

    webhook_delay_ms: int = 50
    checkout_lifetime_seconds: int = 1800


def _amount(value: Any, name: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_AMOUNT:
        raise ApiError(400, "invalid_amount", f"{name} must be a whole number of yen between 1 and {MAX_AMOUNT}")
    return value


class PaymentSandbox(CardSetupMixin, SandboxProvider):
    """Charges, refunds, hosted checkout and card registration, and the settlement report."""

    name = "payment"
    config_class = PaymentConfig

    def clear(self) -> None:
        """No charges, no refunds, no sessions, no stored cards."""
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.checkouts = checkout_page.HostedSessions("checkout", "cs_", outcome="charge_id")
        self.clear_setups()

    def routes(self) -> list[Route]:
        """The gateway API."""
        return [
            Route("/charges", self.create_charge, methods=["POST"]),
            Route("/charges", self.find_charges, methods=["GET"]),
            Route("/charges/{charge_id}", self.get_charge, methods=["GET"]),
            Route("/charges/{charge_id}/refunds", self.create_refund, methods=["POST"]),
            Route("/refunds", self.find_refunds, methods=["GET"]),
            Route("/refunds/{refund_id}", self.get_refund, methods=["GET"]),
            Route("/reports/settlement", self.settlement_report, methods=["GET"]),
            Route("/checkout/sessions", self.create_checkout, methods=["POST"]),
            Route("/checkout/sessions", self.find_checkouts, methods=["GET"]),
            Route("/checkout/sessions/{session_id}", self.get_checkout, methods=["GET"]),
            Route("/checkout/sessions/{session_id}/expire", self.expire_checkout, methods=["POST"]),
            Route("/checkout/pay/{session_id}", self.checkout_page, methods=["GET"]),
            Route("/checkout/pay/{session_id}", self.pay_checkout, methods=["POST"]),
            *self.setup_routes(),
        ]

    def _notify(self, event_type: str, charge_id: str, data: dict[str, Any], callback_url: str | None) -> None:
        data = copy.deepcopy(data)
        self.later(self.config.webhook_delay_ms / 1000,
                   lambda: self.emit(event_type, charge_id, data, callback_url))

    async def create_charge(self, request: Request) -> Response:
        """Charge a customer once per Idempotency-Key."""
        return await self.idempotent(request, self._charge)

    def _charge(self, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        amount = _amount(body.get("amount"))
        currency = body.get("currency", "JPY")
        if currency != "JPY":
            raise ApiError(400, "unsupported_currency", "only JPY is supported")
        customer_ref = body.get("customer_ref")
        if not isinstance(customer_ref, str) or not customer_ref.strip():
            raise ApiError(400, "customer_ref_required", "customer_ref is required")
        method = body.get("payment_method", "pm_card_ok")
        stored = isinstance(method, str) and method in self.payment_methods
        if method != "pm_card_ok" and method not in DECLINING_METHODS and not stored:
            raise ApiError(400, "invalid_payment_method", f"unknown payment_method {method}")
        failure = self.charge_failure(method) if stored else DECLINING_METHODS.get(method)
        charge = {
            "id": "ch_" + secrets.token_hex(10), "object": "charge", "amount": amount, "currency": "JPY",
            "customer_ref": customer_ref, "description": body.get("description"),
            "status": "failed" if failure else "succeeded", "failure_code": failure,
            "amount_refunded": 0, "refunds": [], "idempotency_key": key, "created_at": utc_now(),
        }
        self.charges[charge["id"]] = charge
        self.record_effect("charge", key, charge["id"], charge_id=charge["id"], amount=amount,
                           customer_ref=customer_ref, status=charge["status"])
        self._notify("charge.failed" if failure else "charge.succeeded", charge["id"], dict(charge),
                     body.get("callback_url"))
        return (402 if failure else 201), dict(charge)

    async def create_refund(self, request: Request) -> Response:
        """Refund (part of) a succeeded charge once per Idempotency-Key."""
        charge_id = request.path_params["charge_id"]
        return await self.idempotent(request, lambda body, key: self._refund(charge_id, body, key))

    def _refund(self, charge_id: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise ApiError(404, "charge_not_found", "no such charge")
        refundable = charge["amount"] - charge["amount_refunded"]
        amount = _amount(body["amount"]) if "amount" in body else refundable
        if charge["status"] != "succeeded":
            return 409, {"error": "charge_not_refundable", "message": "only a succeeded charge can be refunded",
                         "charge_id": charge_id}
        if amount > refundable or amount < 1:
            return 409, {"error": "amount_exceeds_refundable", "message": f"at most {refundable} JPY can be refunded",
                         "charge_id": charge_id, "refundable": refundable}
        refund = {"id": "re_" + secrets.token_hex(10), "object": "refund", "charge_id": charge_id, "amount": amount,
                  "currency": "JPY", "reason": body.get("reason"), "status": "succeeded", "idempotency_key": key,
                  "customer_ref": charge["customer_ref"], "created_at": utc_now()}
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunds"].append(refund["id"])
        self.record_effect("refund", key, charge_id, charge_id=charge_id, refund_id=refund["id"], amount=amount)
        self._notify("refund.succeeded", charge_id, dict(refund), body.get("callback_url"))
        return 201, dict(refund)

    async def get_charge(self, request: Request) -> JSONResponse:
        """One charge (404 if unknown)."""
        charge = self.charges.get(request.path_params["charge_id"])
        if charge is None:
            return JSONResponse({"error": "charge_not_found", "message": "no such charge"}, status_code=404)
        return JSONResponse(charge)

    async def find_charges(self, request: Request) -> JSONResponse:
        """Charges filtered by ?idempotency_key= and/or ?customer_ref=."""
        key, ref = request.query_params.get("idempotency_key"), request.query_params.get("customer_ref")
        found = [c for c in self.charges.values()
                 if (key is None or c["idempotency_key"] == key) and (ref is None or c["customer_ref"] == ref)]
        return JSONResponse({"data": found})

    async def find_refunds(self, request: Request) -> JSONResponse:
        """Refunds filtered by ?idempotency_key= and/or ?charge_id=."""
        key, charge_id = request.query_params.get("idempotency_key"), request.query_params.get("charge_id")
        found = [r for r in self.refunds.values()
                 if (key is None or r["idempotency_key"] == key) and (charge_id is None or r["charge_id"] == charge_id)]
        return JSONResponse({"data": found})

    async def get_refund(self, request: Request) -> JSONResponse:
        """One refund (404 if unknown)."""
        refund = self.refunds.get(request.path_params["refund_id"])
        if refund is None:
            return JSONResponse({"error": "refund_not_found", "message": "no such refund"}, status_code=404)
        return JSONResponse(refund)

    async def settlement_report(self, request: Request) -> Response:
        """CSV: the day's succeeded charges (fee 3.6 %) and refunds, with net amounts."""
        try:
            day = report_date(request)
        except ApiError as exc:
            return exc.response()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["date", "type", "id", "charge_id", "customer_ref", "idempotency_key", "amount", "fee",
                         "net", "created_at"])
        rows = []
        for charge in self.charges.values():
            if charge["status"] == "succeeded" and jst_day(datetime.fromisoformat(charge["created_at"])) == day:
                fee = charge["amount"] * FEE_PER_MILLE // 1000
                kind = "checkout" if charge.get("checkout_session_id") else "charge"
                rows.append([day.isoformat(), kind, charge["id"], charge["id"], charge["customer_ref"],
                             charge["idempotency_key"], charge["amount"], fee, charge["amount"] - fee,
                             charge["created_at"]])
        for refund in self.refunds.values():
            if jst_day(datetime.fromisoformat(refund["created_at"])) == day:
                rows.append([day.isoformat(), "refund", refund["id"], refund["charge_id"], refund["customer_ref"],
                             refund["idempotency_key"], -refund["amount"], 0, -refund["amount"],
                             refund["created_at"]])
        writer.writerows(sorted(rows, key=lambda row: row[-1]))
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="settlement-{day.isoformat()}.csv"'})

    # -- hosted checkout --

    async def create_checkout(self, request: Request) -> Response:
        """Open a checkout session once per Idempotency-Key; its `url` is the page the customer pays on."""
        base = self.settings.public_url or str(request.base_url).rstrip("/")
        return await self.idempotent(request, lambda body, key: self._open_checkout(body, key, base))

    def _open_checkout(self, body: dict[str, Any], key: str, base: str) -> tuple[int, dict[str, Any]]:
        amount = _amount(body.get("amount"))
        if body.get("currency", "JPY") != "JPY":
            raise ApiError(400, "unsupported_currency", "only JPY is supported")
        session = self.checkouts.open(body, key, base, self.config.checkout_lifetime_seconds,
                                      amount=amount, currency="JPY")
        self.record_effect("checkout.open", key, session["id"], session_id=session["id"], amount=amount,
                           client_reference_id=session["client_reference_id"])
        return 201, dict(session)

    async def get_checkout(self, request: Request) -> JSONResponse:
        """One checkout session (404 if unknown)."""
        return self.checkouts.one(request)

    async def find_checkouts(self, request: Request) -> JSONResponse:
        """Sessions filtered by ?idempotency_key= and/or ?client_reference_id=."""
        return self.checkouts.matching(request)

    async def expire_checkout(self, request: Request) -> Response:
        """Close an open session so that nothing can be paid on it (a completed one stays complete: 409)."""
        session_id = request.path_params["session_id"]
        return await self.idempotent(request, lambda body, key: self._expire(session_id, key))

    def _expire(self, session_id: str, key: str) -> tuple[int, dict[str, Any]]:
        session = self.checkouts.get(session_id)
        if session is None:
            raise self.checkouts.missing()
        if session["status"] == "complete":
            return 409, {"error": "checkout_complete", "message": "the session is already paid", **session}
        if session["status"] == "open":
            session["status"] = "expired"
            self.record_effect("checkout.expire", key, session_id, session_id=session_id)
        return 200, dict(session)

    async def checkout_page(self, request: Request) -> Response:
        """The hosted page: pay this session's amount by card."""
        return await self.checkouts.serve(request, self._page_for)

    def _page_for(self, session: dict[str, Any], request: Request, **form) -> Response:
        if session["status"] == "complete":
            return RedirectResponse(session["success_url"], status_code=303) if session.get("success_url") \
                else checkout_page.done_page(session)
        if session["status"] == "expired":
            return checkout_page.closed_page(session, "お支払いの有効期限が切れました。最初からやり直してください。")
        return checkout_page.pay_page(session, request.url.path, **form)

    async def pay_checkout(self, request: Request) -> Response:
        """The page's form: a test card pays the session once (the money becomes a charge), else says why not."""
        return await self.checkouts.serve(request, self._page_for, self._pay)

    def _pay(self, session: dict[str, Any], request: Request, form: dict[str, str]) -> Response:
        number = form.get("card_number", "")
        problem = checkout_page.card_problem(number)
        if problem is not None:
            declined = problem in DECLINING_METHODS.values()
            if declined:
                self.record_effect("checkout.declined", session["idempotency_key"], session["id"],
                                   session_id=session["id"], failure_code=problem)
            return checkout_page.pay_page(session, request.url.path, error=checkout_page.DECLINE_WORDS[problem],
                                          number=number[:23], status=402 if declined else 400)
        self._complete(session)
        return RedirectResponse(session["success_url"], status_code=303)

    def _complete(self, session: dict[str, Any]) -> None:
        key = session["idempotency_key"]
        charge = {
            "id": "ch_" + secrets.token_hex(10), "object": "charge", "amount": session["amount"], "currency": "JPY",
            "customer_ref": session.get("customer_ref"), "description": session.get("description"),
            "status": "succeeded", "failure_code": None, "amount_refunded": 0, "refunds": [], "idempotency_key": key,
            "checkout_session_id": session["id"], "created_at": utc_now(),
        }
        self.charges[charge["id"]] = charge
        session.update(status="complete", charge_id=charge["id"], completed_at=charge["created_at"])
        self.record_effect("checkout.paid", key, session["id"], session_id=session["id"], charge_id=charge["id"],
                           amount=session["amount"], client_reference_id=session.get("client_reference_id"))
        self._notify("checkout.completed", session["id"], dict(session), None)
