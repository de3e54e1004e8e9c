"""The payment gateway sandbox's hosted pages: paying a bill (決済ページ) and registering a card (カード登録ページ),
what a tester sees on a phone.

Plain HTML, Japanese, no script: labelled fields with large tap targets, the amount and the bill it pays (or, to
register a card, its expiry too), the test card numbers, a pay / register button and a way back. Nothing here
keeps state; sandbox.payment and sandbox.card_setup render them for a session.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.responses import HTMLResponse

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
