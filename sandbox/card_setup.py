"""The payment gateway sandbox's card registration: the hosted page in setup mode (カードを登録), no amount.

    POST /setup/sessions          {"customer_ref"?, "client_reference_id"?, "description"?, "success_url",
                                   "cancel_url"}  201 {"id": "seti_...", "url", "status": "open", ...}
    GET  /setup/sessions/{id}     one session (open | complete | expired); a complete one names its payment_method
    GET  /setup/sessions?idempotency_key=K   the session created under that key (also ?client_reference_id=)
    GET  /setup/pay/{id}          the page (Japanese, phone first): card number, expiry (MM/YY), 「カードを登録」
    POST /setup/pay/{id}          4242 4242 4242 4242 registers; 4000 0000 0000 0002 is declined (nothing stored,
                                  the same alert as the checkout page); 4000 0000 0000 0341 registers, but every
                                  later charge to it is declined. Success stores a payment method (pm_...), sends
                                  `setup.completed` and answers 303 to the success URL.
    GET  /payment_methods/{id}    a stored card: brand, last4, exp_month, exp_year (never the number)

POST /charges takes a stored payment method's id as its payment_method. A session is open for
`checkout_lifetime_seconds`, like a checkout page; a completed one opened again returns to the success URL.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox import checkout_page
from sandbox.base import JST
from sandbox.webhooks import utc_now

BRANDS = {"4": "visa", "5": "mastercard", "3": "amex"}  # by the number's first digit


def _expiry(text: str) -> tuple[int, int] | None:
    """(month, four-digit year) of an "MM/YY" or "MM/YYYY" expiry, None when it is not one."""
    month, _, year = text.replace(" ", "").partition("/")
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12 and len(year) in (2, 4)):
        return None
    return int(month), int(year) + (2000 if len(year) == 2 else 0)


def _expiry_problem(expiry: tuple[int, int] | None) -> str | None:
    """invalid_expiry, expired_card (a month before this one in Tokyo) or None."""
    if expiry is None:
        return "invalid_expiry"
    now = datetime.now(JST)
    return "expired_card" if (expiry[1], expiry[0]) < (now.year, now.month) else None


class CardSetupMixin:
    """Setup sessions and the payment methods they store (mixed into sandbox.payment.PaymentSandbox)."""

    def clear_setups(self) -> None:
        """No setup sessions, no stored cards."""
        self.setups = checkout_page.HostedSessions("setup", "seti_", outcome="payment_method")
        self.payment_methods: dict[str, dict[str, Any]] = {}

    def setup_routes(self) -> list[Route]:
        """The registration API and page."""
        return [
            Route("/setup/sessions", self.create_setup, methods=["POST"]),
            Route("/setup/sessions", self.find_setups, methods=["GET"]),
            Route("/setup/sessions/{session_id}", self.get_setup, methods=["GET"]),
            Route("/setup/pay/{session_id}", self.setup_page, methods=["GET"]),
            Route("/setup/pay/{session_id}", self.register_card, methods=["POST"]),
            Route("/payment_methods/{method_id}", self.get_payment_method, methods=["GET"]),
        ]

    def charge_failure(self, method: str) -> str | None:
        """The failure code a charge to a stored payment method gets (None: it succeeds)."""
        return self.payment_methods[method]["charge_failure"]

    async def create_setup(self, request: Request) -> Response:
        """Open a setup session once per Idempotency-Key; its `url` is the page the customer registers on."""
        base = self.settings.public_url or str(request.base_url).rstrip("/")
        return await self.idempotent(request, lambda body, key: self._open_setup(body, key, base))

    def _open_setup(self, body: dict[str, Any], key: str, base: str) -> tuple[int, dict[str, Any]]:
        session = self.setups.open(body, key, base, self.config.checkout_lifetime_seconds)
        self.record_effect("setup.open", key, session["id"], session_id=session["id"],
                           client_reference_id=session["client_reference_id"])
        return 201, dict(session)

    async def get_setup(self, request: Request) -> JSONResponse:
        """One setup session (404 if unknown)."""
        return self.setups.one(request)

    async def find_setups(self, request: Request) -> JSONResponse:
        """Sessions filtered by ?idempotency_key= and/or ?client_reference_id=."""
        return self.setups.matching(request)

    async def get_payment_method(self, request: Request) -> JSONResponse:
        """One stored card (404 if unknown)."""
        method = self.payment_methods.get(request.path_params["method_id"])
        if method is None:
            return JSONResponse({"error": "payment_method_not_found", "message": "no such payment method"},
                                status_code=404)
        return JSONResponse({k: v for k, v in method.items() if k != "charge_failure"})

    async def setup_page(self, request: Request) -> Response:
        """The hosted page: register a card for later charges."""
        return await self.setups.serve(request, self._setup_page_for)

    def _setup_page_for(self, session: dict[str, Any], request: Request, **form) -> Response:
        if session["status"] == "complete":
            return RedirectResponse(session["success_url"], status_code=303)
        if session["status"] == "expired":
            return checkout_page.setup_closed_page(session, "カード登録の有効期限が切れました。最初からやり直してください。")
        return checkout_page.setup_page(session, request.url.path, **form)

    async def register_card(self, request: Request) -> Response:
        """The page's form: a test card is stored once (a payment method), else the page says why not."""
        return await self.setups.serve(request, self._setup_page_for, self._register)

    def _register(self, session: dict[str, Any], request: Request, form: dict[str, str]) -> Response:
        number, expiry_text = form.get("card_number", ""), form.get("card_expiry", "")
        expiry = _expiry(expiry_text)
        problem = checkout_page.card_problem(number, registering=True) or _expiry_problem(expiry)
        if problem is not None:
            declined = problem in ("card_declined", "insufficient_funds", "expired_card")
            if declined:
                self.record_effect("setup.declined", session["idempotency_key"], session["id"],
                                   session_id=session["id"], failure_code=problem)
            return checkout_page.setup_page(session, request.url.path, error=checkout_page.DECLINE_WORDS[problem],
                                            number=number[:23], expiry=expiry_text[:7], status=402 if declined else 400)
        self._store(session, checkout_page.card_digits(number), *expiry)
        return RedirectResponse(session["success_url"], status_code=303)

    def _store(self, session: dict[str, Any], digits: str, exp_month: int, exp_year: int) -> None:
        method = {"id": "pm_" + secrets.token_hex(10), "object": "payment_method",
                  "brand": BRANDS.get(digits[0], "other"), "last4": digits[-4:], "exp_month": exp_month,
                  "exp_year": exp_year, "customer_ref": session.get("customer_ref"), "created_at": utc_now(),
                  "charge_failure": checkout_page.DECLINES_LATER.get(digits)}
        self.payment_methods[method["id"]] = method
        session.update(status="complete", payment_method=method["id"], completed_at=method["created_at"])
        self.record_effect("setup.completed", session["idempotency_key"], session["id"], session_id=session["id"],
                           payment_method=method["id"], client_reference_id=session.get("client_reference_id"))
        card = {k: method[k] for k in ("brand", "last4", "exp_month", "exp_year")}
        self._notify("setup.completed", session["id"], {**session, **card}, None)
