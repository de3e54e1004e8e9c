"""Bank sandbox: incoming-transfer notifications and Zengin (全銀協) 入出金取引明細 statement files.

    POST /_sandbox/transfers   admin: create transactions on the operator's account, each notified by a
                               signed `transfer.received` webhook. Body: one object or {"transfers": [...]}:
                               {"amount", "payer_name" (katakana/hiragana/ASCII; stored as half-width kana),
                                "payer_code"?, "edi"? (e.g. an invoice number), "remitting_bank"?,
                                "remitting_branch"?, "date"? (YYYY-MM-DD, default today in Tokyo),
                                "direction"?: "in" (default) | "out"}
    GET  /transfers            every transaction as JSON (?date=YYYY-MM-DD to filter)
    GET  /transfers/{id}       one transaction
    GET  /statements?date=YYYY-MM-DD  (or ?from=&to=)   the 入出金取引明細 file: 200-byte cp932 records
                               without line breaks, header / data / trailer / end
    POST /debits               a 口座振替 request file (種別コード 91, 120-byte records) as the raw body,
                               Content-Type application/octet-stream -> 201 {"id": "dd_...", "count", "amount",
                               "withdrawal_date"}; the same bytes again -> 200 with the same id; a bad file -> 400
                               {"error": "invalid_debit_file", "message" naming the byte}
    GET  /debits[?idempotency_key=]  the files received (each as its summary)
    GET  /debits/{id}/result   the result file at once: the request's records with each 振替結果コード set and the
                               trailer's 振替済/振替不能 filled, CR+LF after each record
    POST /_sandbox/debit-results   admin: the result code the bank answers for an account or a customer:
                               {"account_number": "1234567" | "customer_number": "...", "code": 1}; codes 0 振替済
                               (the default), 1 資金不足, 2 取引なし, 3/8 振替停止, 4 依頼書なし, 9 その他;
                               a customer_number setting wins over an account_number one. DELETE: clear all.

Run-time config: webhook_url, opening_balance (the balance before the first transaction).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.base import JST, ApiError, ProviderConfig, SandboxProvider, error_response, read_json
from sandbox.webhooks import utc_now
from sandbox.zengin import (
    DEBIT_RESULT_CODES,
    Account,
    DebitFileError,
    Entry,
    ZenginCharacterError,
    debit_result,
    read_debit_request,
    statement,
    to_zengin_kana,
)


@dataclass
class BankConfig(ProviderConfig):
    """Bank run-time settings."""

    opening_balance: int = 1_000_000


def _date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, "invalid_date", f"{name} must be YYYY-MM-DD") from None


class BankSandbox(SandboxProvider):
    """The operator's account at the bank: transactions, notifications and statement files."""

    name = "bank"
    config_class = BankConfig
    account = Account()

    def clear(self) -> None:
        """No transactions, no 口座振替 files, every debit answered 振替済."""
        self.transfers: list[dict[str, Any]] = []
        self.debits: dict[str, dict[str, Any]] = {}
        self.debit_codes: dict[tuple[str, str], int] = {}  # ("account_number" | "customer_number", value) -> code

    def routes(self) -> list[Route]:
        """The bank API."""
        return [
            Route("/_sandbox/transfers", self.create_transfers, methods=["POST"]),
            Route("/transfers", self.list_transfers, methods=["GET"]),
            Route("/transfers/{transfer_id}", self.get_transfer, methods=["GET"]),
            Route("/statements", self.download_statement, methods=["GET"]),
            Route("/debits", self.submit_debits, methods=["POST"]),
            Route("/debits", self.list_debits, methods=["GET"]),
            Route("/debits/{debit_id}/result", self.download_debit_result, methods=["GET"]),
            Route("/_sandbox/debit-results", self.set_debit_results, methods=["POST", "DELETE"]),
        ]

    def _validated(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise ApiError(400, "invalid_transfer", "each transfer must be an object")
        amount = item.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 999_999_999_999:
            raise ApiError(400, "invalid_amount", "amount must be a whole number of yen (1 or more)")
        direction = item.get("direction", "in")
        if direction not in ("in", "out"):
            raise ApiError(400, "invalid_direction", "direction must be in or out")
        payer_code = str(item.get("payer_code") or "")
        if payer_code and (not payer_code.isdigit() or len(payer_code) > 10):
            raise ApiError(400, "invalid_payer_code", "payer_code must be up to 10 digits")
        try:
            names = {k: to_zengin_kana(str(item.get(k) or "")) for k in
                     ("payer_name", "remitting_bank", "remitting_branch", "edi", "summary")}
        except ZenginCharacterError as exc:
            raise ApiError(400, "invalid_characters", str(exc)) from None
        if direction == "in" and not names["payer_name"]:
            raise ApiError(400, "payer_name_required", "payer_name is required for an incoming transfer")
        booked = _date(item["date"], "date") if item.get("date") else datetime.now(JST).date()
        return {"amount": amount, "direction": direction, "payer_code": payer_code, "booked_on": booked.isoformat()
                } | names

    async def create_transfers(self, request: Request) -> JSONResponse:
        """Admin: book transactions and notify each by webhook."""
        try:
            body = await read_json(request)
            items = body.get("transfers", [body]) if body else []
            if not isinstance(items, list) or not items:
                raise ApiError(400, "transfers_required", "give a transfer object or {\"transfers\": [...]}")
            validated = [self._validated(item) for item in items]
        except ApiError as exc:
            return exc.response()
        created = []
        for fields in validated:
            transfer = {"id": "trf_" + secrets.token_hex(8), "inquiry_number": len(self.transfers) + 1,
                        "created_at": utc_now(), **fields}
            self.transfers.append(transfer)
            created.append(transfer)
            operation = "transfer.received" if fields["direction"] == "in" else "withdrawal.booked"
            self.record_effect(operation, None, transfer["id"], amount=fields["amount"],
                               payer_name=fields["payer_name"], booked_on=fields["booked_on"])
            self.emit(operation, self.account.account_number, dict(transfer))
        return JSONResponse({"transfers": created}, status_code=201)

    async def list_transfers(self, request: Request) -> JSONResponse:
        """Every transaction, or one day's with ?date=."""
        day = request.query_params.get("date")
        return JSONResponse({"transfers": [t for t in self.transfers if day is None or t["booked_on"] == day]})

    async def get_transfer(self, request: Request) -> JSONResponse:
        """One transaction (404 if unknown)."""
        for transfer in self.transfers:
            if transfer["id"] == request.path_params["transfer_id"]:
                return JSONResponse(transfer)
        return JSONResponse({"error": "transfer_not_found", "message": "no such transfer"}, status_code=404)

    async def download_statement(self, request: Request) -> Response:
        """The Zengin 入出金取引明細 file for one day (?date=) or a range (?from=&to=)."""
        q = request.query_params
        try:
            if q.get("from") or q.get("to"):
                start, end = _date(q.get("from"), "from"), _date(q.get("to"), "to")
            else:
                start = end = _date(q["date"], "date") if q.get("date") else datetime.now(JST).date()
            if end < start:
                raise ApiError(400, "invalid_range", "to must not be before from")
        except ApiError as exc:
            return exc.response()
        balance = self.config.opening_balance
        entries = []
        for t in sorted(self.transfers, key=lambda item: (item["booked_on"], item["inquiry_number"])):
            booked = date.fromisoformat(t["booked_on"])
            signed = t["amount"] if t["direction"] == "in" else -t["amount"]
            if booked < start:
                balance += signed
            elif booked <= end:
                entries.append(Entry(inquiry_number=t["inquiry_number"], booked_on=booked,
                                     deposit=t["direction"] == "in", amount=t["amount"],
                                     payer_name=t["payer_name"], payer_code=t["payer_code"],
                                     remitting_bank=t["remitting_bank"], remitting_branch=t["remitting_branch"],
                                     summary=t["summary"], edi=t["edi"]))
        content = statement(self.account, start, end, datetime.now(JST).date(), balance, entries)
        name = f"nyushukkin-{start.isoformat()}" + ("" if start == end else f"-{end.isoformat()}") + ".txt"
        return Response(content, media_type="text/plain; charset=shift_jis",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def submit_debits(self, request: Request) -> JSONResponse:
        """Accept a 口座振替 request file once per content (the same bytes again answer the same batch)."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/octet-stream":
            return error_response(415, "unsupported_media_type", "send the file as application/octet-stream")
        content = await request.body()
        debit_id = "dd_" + hashlib.sha256(content).hexdigest()[:24]
        if debit_id in self.debits:
            return JSONResponse(self.debits[debit_id]["summary"])
        try:
            batch = read_debit_request(content, datetime.now(JST).date())
        except DebitFileError as exc:
            return error_response(400, "invalid_debit_file", str(exc))
        summary = {"id": debit_id, "count": batch.count, "amount": batch.amount,
                   "withdrawal_date": batch.withdrawal_date.isoformat(),
                   "idempotency_key": request.headers.get("idempotency-key")}
        self.debits[debit_id] = {"summary": summary, "request": batch, "created_at": utc_now()}
        self.record_effect("debit.submitted", None, debit_id, count=batch.count, amount=batch.amount,
                           withdrawal_date=summary["withdrawal_date"])
        return JSONResponse(summary, status_code=201)

    async def list_debits(self, request: Request) -> JSONResponse:
        """The files received (?idempotency_key= to find the one sent under a key)."""
        key = request.query_params.get("idempotency_key")
        rows = [d["summary"] for d in self.debits.values() if key is None or d["summary"].get("idempotency_key") == key]
        return JSONResponse({"debits": rows})

    async def download_debit_result(self, request: Request) -> Response:
        """The result file of a submitted batch, with the result codes configured now (404 if unknown)."""
        debit_id = request.path_params["debit_id"]
        debit = self.debits.get(debit_id)
        if debit is None:
            return error_response(404, "debit_not_found", "no such 口座振替 file")
        content = debit_result(debit["request"], self._debit_code)
        return Response(content, media_type="text/plain; charset=shift_jis",
                        headers={"Content-Disposition": f'attachment; filename="furikae-kekka-{debit_id}.txt"'})

    def _debit_code(self, account_number: str, customer_number: str) -> int:
        by_customer = self.debit_codes.get(("customer_number", customer_number.lstrip("0")))
        return by_customer if by_customer is not None else self.debit_codes.get(("account_number", account_number), 0)

    async def set_debit_results(self, request: Request) -> JSONResponse:
        """Admin: set (POST) or clear (DELETE) the result code answered for an account or a customer."""
        if request.method == "POST":
            try:
                body = await read_json(request)
                keys = [k for k in ("account_number", "customer_number") if k in body]
                if len(keys) != 1:
                    raise ApiError(400, "invalid_debit_result", "give account_number or customer_number")
                kind, value, code = keys[0], str(body[keys[0]]), body.get("code")
                digits = value.isascii() and value.isdigit()
                if kind == "account_number" and not (digits and len(value) == 7):
                    raise ApiError(400, "invalid_debit_result", "account_number must be 7 digits")
                if kind == "customer_number" and not (digits and len(value) <= 20):
                    raise ApiError(400, "invalid_debit_result", "customer_number must be up to 20 digits")
                if not isinstance(code, int) or isinstance(code, bool) or code not in DEBIT_RESULT_CODES:
                    raise ApiError(400, "invalid_debit_result", f"code must be one of {sorted(DEBIT_RESULT_CODES)}")
            except ApiError as exc:
                return exc.response()
            self.debit_codes[(kind, value.lstrip("0") if kind == "customer_number" else value)] = code
        else:
            self.debit_codes.clear()
        return JSONResponse({"debit_results": [{kind: value, "code": code}
                                               for (kind, value), code in self.debit_codes.items()]})
