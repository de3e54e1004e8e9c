"""The payment gateway sandbox's hosted pages: paying a bill (決済ページ) and registering a card (カード登録ページ),
what a tester sees on a phone.

Plain HTML, Japanese, no script: labelled fields with large tap targets, the amount and the bill it pays (or, to
register a card, its expiry too), the test card numbers, a pay / register button and a way back. sandbox.payment and
sandbox.card_setup render them for a session; HostedSessions keeps either kind of session (open once with where to
return, expired when its time is up, found by key) and reads its page's form, card_problem checks a typed card.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from sandbox.base import ApiError
from sandbox.webhooks import utc_now

# Test card numbers, as a gateway's test mode publishes them: the outcome each one gives.
TEST_CARDS = {
    "4242424242424242": None,  # succeeds
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000341": "card_declined",  # paying at once is declined; registering it works (DECLINES_LATER)
}
DECLINES_LATER = {"4000000000000341": "card_declined"}  # registers, but every later charge to it is declined
DECLINE_WORDS = {
    "card_declined": "カードが承認されませんでした。別のカードをお試しください。",
    "insufficient_funds": "ご利用可能額が不足しているため、カードが承認されませんでした。別のカードをお試しください。",
    "invalid_number": "カード番号が正しくありません。16桁の番号を入力してください。",
    "not_a_test_card": "このサンドボックスではテスト用のカード番号だけが使えます。",
    "invalid_expiry": "有効期限を「月/年」の形（例: 12/28）で入力してください。",
    "expired_card": "このカードは有効期限が過ぎています。別のカードをお試しください。",
}
_STYLE = (
    "*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'Hiragino Sans','Noto Sans JP',sans-serif;"
    "margin:0;color:#1d1d1f;background:#f4f5f7}main{max-width:480px;margin:0 auto;padding:1rem}"
    "h1{font-size:1.25rem;margin:.5rem 0 1rem}.card{background:#fff;border-radius:12px;padding:1rem;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12);margin-bottom:1rem}.amount{font-size:1.75rem;font-weight:700;margin:.25rem 0}"
    ".muted{color:#666;font-size:.875rem;overflow-wrap:anywhere}label{display:block;font-weight:600;margin-bottom:.4rem}"
    "input{width:100%;font-size:1.125rem;min-height:48px;padding:.5rem .75rem;border:1px solid #999;border-radius:8px}"
    "button,.back{display:flex;align-items:center;justify-content:center;width:100%;min-height:48px;margin-top:1rem;"
    "font-size:1rem;border-radius:8px;text-decoration:none}button{background:#0b5cff;color:#fff;border:0;"
    "font-weight:700}.back{color:#0b5cff;border:1px solid #0b5cff;background:#fff}"
    ".error{background:#fdecec;color:#a40000;border-radius:8px;padding:.75rem;margin-bottom:1rem}"
    ".ok{background:#e8f6ec;color:#17602a;border-radius:8px;padding:.75rem;margin-bottom:1rem}"
    "code{font-size:.95rem;white-space:nowrap}ul{padding-left:1.2rem;margin:.25rem 0}"
)


def yen(amount: int) -> str:
    """¥3,300."""
    return f"¥{amount:,}"


def _frame(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>",
        status_code=status, headers={"Cache-Control": "no-store"},
    )


def _summary(session: dict[str, Any]) -> str:
    description = session.get("description") or ""
    return ('<div class="card"><div class="muted">お支払い金額</div>'
            f'<div class="amount" id="amount">{html.escape(yen(session["amount"]))}</div>'
            + (f'<div class="muted">{html.escape(description)}</div>' if description else "")
            + "</div>")


def pay_page(session: dict[str, Any], action: str, *, error: str | None = None, number: str = "",
             status: int = 200) -> HTMLResponse:
    """The form: card number and pay, or go back without paying."""
    problem = f'<div class="error" role="alert">{html.escape(error)}</div>' if error else ""
    cancel = session.get("cancel_url")
    back = f'<a class="back" href="{html.escape(cancel)}" id="cancel">支払わずに戻る</a>' if cancel else ""
    body = (
        _summary(session) + problem
        + f'<form class="card" method="post" action="{html.escape(action)}">'
        '<label for="card_number">カード番号</label>'
        f'<input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" '
        f'placeholder="4242 4242 4242 4242" maxlength="23" required value="{html.escape(number)}">'
        '<button type="submit" id="pay">支払う</button></form>'
        + back
        + '<div class="card muted"><p>これは決済代行のサンドボックス（テスト環境）です。実際のカードは使えません。</p>'
        "<ul><li><code>4242 4242 4242 4242</code> 支払いに成功</li>"
        "<li><code>4000 0000 0000 0002</code> カードが承認されない</li>"
        "<li><code>4000 0000 0000 9995</code> 利用可能額の不足</li></ul></div>"
    )
    return _frame("カードでのお支払い", body, status)


def setup_page(session: dict[str, Any], action: str, *, error: str | None = None, number: str = "",
               expiry: str = "", status: int = 200) -> HTMLResponse:
    """The registration form: card number and expiry, register, or go back without registering."""
    problem = f'<div class="error" role="alert">{html.escape(error)}</div>' if error else ""
    cancel = session.get("cancel_url")
    back = f'<a class="back" href="{html.escape(cancel)}" id="cancel">登録せずに戻る</a>' if cancel else ""
    description = session.get("description") or ""
    body = (
        '<div class="card"><div>今後のご請求を、このカードで自動でお支払いします。この画面では請求されません。</div>'
        + (f'<div class="muted">{html.escape(description)}</div>' if description else "") + "</div>"
        + problem
        + f'<form class="card" method="post" action="{html.escape(action)}">'
        '<label for="card_number">カード番号</label>'
        f'<input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" '
        f'placeholder="4242 4242 4242 4242" maxlength="23" required value="{html.escape(number)}">'
        '<label for="card_expiry" style="margin-top:1rem">有効期限（月/年）</label>'
        f'<input id="card_expiry" name="card_expiry" inputmode="numeric" autocomplete="cc-exp" '
        f'placeholder="12/28" maxlength="7" required value="{html.escape(expiry)}">'
        '<button type="submit" id="register">カードを登録</button></form>'
        + back
        + '<div class="card muted"><p>これは決済代行のサンドボックス（テスト環境）です。実際のカードは使えません。</p>'
        "<ul><li><code>4242 4242 4242 4242</code> 登録に成功</li>"
        "<li><code>4000 0000 0000 0002</code> カードが承認されない</li>"
        "<li><code>4000 0000 0000 0341</code> 登録に成功し、その後の請求が承認されない</li></ul></div>"
    )
    return _frame("カードの登録", body, status)


def setup_closed_page(session: dict[str, Any], why: str, status: int = 410) -> HTMLResponse:
    """An expired registration page: nothing can be registered here any more."""
    cancel = session.get("cancel_url")
    back = f'<a class="back" href="{html.escape(cancel)}" id="cancel">戻る</a>' if cancel else ""
    return _frame("このカード登録ページは使えません", f'<div class="error" role="alert">{html.escape(why)}</div>' + back,
                  status)


def done_page(session: dict[str, Any]) -> HTMLResponse:
    """A completed session opened again (no return URL to send the tester to)."""
    return _frame("お支払い済みです", _summary(session) + '<div class="ok">このお支払いは完了しています。</div>')


def closed_page(session: dict[str, Any], why: str, status: int = 410) -> HTMLResponse:
    """An expired or cancelled session: nothing can be paid here any more."""
    cancel = session.get("cancel_url")
    back = f'<a class="back" href="{html.escape(cancel)}" id="cancel">戻る</a>' if cancel else ""
    return _frame("このお支払いページは使えません",
                  _summary(session) + f'<div class="error" role="alert">{html.escape(why)}</div>' + back, status)


def not_found_page() -> HTMLResponse:
    """An unknown session id."""
    return _frame("お支払いページが見つかりません", '<div class="error" role="alert">URLをご確認ください。</div>', 404)


def card_digits(number: str) -> str:
    """The digits of a typed card number."""
    return "".join(ch for ch in number if ch.isdigit())


def card_problem(number: str, *, registering: bool = False) -> str | None:
    """What is wrong with a typed card number (a DECLINE_WORDS key), None if it goes through; registering, a card that
    only declines later charges (DECLINES_LATER) goes through."""
    digits = card_digits(number)
    if len(digits) != 16 or any(ch not in "0123456789 -" for ch in number):
        return "invalid_number"
    if digits not in TEST_CARDS:
        return "not_a_test_card"
    return None if registering and digits in DECLINES_LATER else TEST_CARDS[digits]


class HostedSessions:
    """The sessions of one kind of hosted page: "checkout" (sandbox.payment) or "setup" (sandbox.card_setup), which
    names the object, the page's path and the not-found error; completing one fills its `outcome` field."""

    def __init__(self, kind: str, id_prefix: str, outcome: str):
        self.kind, self.id_prefix, self.outcome = kind, id_prefix, outcome
        self.sessions: dict[str, dict[str, Any]] = {}

    def open(self, body: dict[str, Any], key: str, base: str, lifetime_seconds: int, **fields: Any) -> dict[str, Any]:
        """A new open session with the body's return URLs and texts; `fields` (the amount …) come before the texts."""
        urls = {name: body.get(name) for name in ("success_url", "cancel_url")}
        for name, url in urls.items():
            parsed = urlparse(url) if isinstance(url, str) and len(url) <= 2000 else None
            if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ApiError(400, f"invalid_{name}", f"{name} must be an absolute http(s) URL")
        texts = {name: body.get(name) for name in ("description", "customer_ref", "client_reference_id")}
        for name, text in texts.items():
            if text is not None and (not isinstance(text, str) or len(text) > 200):
                raise ApiError(400, f"invalid_{name}", f"{name} must be text of at most 200 characters")
        session_id = self.id_prefix + secrets.token_hex(10)
        expires = datetime.now(UTC) + timedelta(seconds=lifetime_seconds)
        session = {
            "id": session_id, "object": f"{self.kind}_session", "url": f"{base}/{self.kind}/pay/{session_id}",
            "status": "open", **fields, **texts, self.outcome: None,
            "expires_at": expires.isoformat(timespec="milliseconds"), "completed_at": None,
            "idempotency_key": key, "created_at": utc_now(), **urls,
        }
        self.sessions[session_id] = session
        return session

    def get(self, session_id: str) -> dict[str, Any] | None:
        """The session, expired first if its time is up (None if unknown)."""
        session = self.sessions.get(session_id)
        if session is not None and session["status"] == "open" \
                and datetime.fromisoformat(session["expires_at"]) <= datetime.now(UTC):
            session["status"] = "expired"
        return session

    def missing(self) -> ApiError:
        """The 404 for a session id that is not known."""
        return ApiError(404, f"{self.kind}_not_found", f"no such {self.kind} session")

    def one(self, request: Request) -> JSONResponse:
        """The path's session as JSON (404 if unknown)."""
        session = self.get(request.path_params["session_id"])
        return self.missing().response() if session is None else JSONResponse(session)

    def matching(self, request: Request) -> JSONResponse:
        """Sessions filtered by ?idempotency_key= and/or ?client_reference_id=, as {"data": [...]}."""
        key, ref = request.query_params.get("idempotency_key"), request.query_params.get("client_reference_id")
        found = [self.get(sid) for sid, s in list(self.sessions.items())
                 if (key is None or s["idempotency_key"] == key) and (ref is None or s["client_reference_id"] == ref)]
        return JSONResponse({"data": found})

    async def serve(self, request: Request, show: Callable[[dict[str, Any], Request], Response],
                    submit: Callable[[dict[str, Any], Request, dict[str, str]], Response] | None = None) -> Response:
        """The path's session on its page (a not-found page if unknown): `show(session, request)`, or for a form
        posted to an open session `submit(session, request, form)`, each field's first value."""
        session = self.get(request.path_params["session_id"])
        if session is None:
            return not_found_page()
        if submit is None or session["status"] != "open":
            return show(session, request)  # a second tap on a finished session only shows where it ended
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        return submit(session, request, {name: values[0] for name, values in form.items()})
