"""Matching money to bills (消込の候補): which unpaid invoice a payment most likely pays, and why.

Banks write the payer's name their own way: half-width katakana, small kana written large (ｯ as ﾂ, ｮ as
ﾖ), the long vowel as '-', no spaces, and the company form abbreviated before or after the name
(ｶ)ﾃﾞﾓ = 株式会社デモ, ﾃﾞﾓ(ｶ = デモ株式会社; ﾕ) 有限会社, ﾄﾞ) 合同会社 …). `payer_key` folds a name written
either way to the same key, so a customer's フリガナ and a bank's ﾒｲｷﾞ compare equal. A candidate scores for
an invoice number in the payer name or reference, the same amount as what is owed, and the same or a
containing name key; the reasons are shown with each suggestion.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SMALL = str.maketrans("ァィゥェォャュョッヮヵヶ", "アイウエオヤユヨツワカケ")
_LONG = re.compile(r"[ー‐‑‒–—―−ｰ\-]")
# company forms as banks abbreviate them, and as people spell them in フリガナ
_FORMS = ("カブシキガイシヤ", "カブシキカイシヤ", "ユウゲンガイシヤ", "ゴウドウガイシヤ", "ゴウシガイシヤ", "ゴウメイガイシヤ",
          "イツパンシヤダンホウジン", "イツパンザイダンホウジン", "トクテイヒエイリカツドウホウジン")
_ABBREVIATED = re.compile(r"\((?:カ|ユ|ド|シ|メ|シヤ|ザイ|トクヒ)\)?|(?:カ|ユ|ド|シ|メ|シヤ|ザイ|トクヒ)\)")
_INVOICE_NO = re.compile(r"INV-?(\d{6})-?(\d{1,6})", re.IGNORECASE)


def payer_key(name: str) -> str:
    """A name folded for comparison: katakana, small kana large, long vowels and spaces gone, company forms
    (written out or abbreviated) dropped, letters upper case."""
    text = unicodedata.normalize("NFKC", name or "").upper()
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    text = text.translate(_SMALL).replace("ヰ", "イ").replace("ヱ", "エ").replace("ヲ", "オ")
    text = _LONG.sub("", text)
    text = re.sub(r"[\s・.,、。　]", "", text)
    for form in _FORMS:  # written out first: "(カブシキガイシヤ)" must not lose "(カ" to the abbreviations
        text = text.replace(f"({form})", "").replace(form, "")
    text = _ABBREVIATED.sub("", text)
    return text.strip("()")


def invoice_numbers_in(text: str) -> set[str]:
    """Invoice numbers written in a payer name or reference (INV-202605-000123, INV202605000123 …)."""
    return {f"INV-{m.group(1)}-{int(m.group(2)):06d}" for m in _INVOICE_NO.finditer(unicodedata.normalize("NFKC", text or ""))}


@dataclass(frozen=True)
class Candidate:
    """An unpaid invoice a payment might pay."""

    invoice_id: int
    invoice_no: str
    customer_id: int
    customer_name: str
    customer_kana: str
    outstanding: int


@dataclass(frozen=True)
class Suggestion:
    """A candidate with its score (higher is likelier) and the reasons in words."""

    candidate: Candidate
    score: int
    reasons: tuple[str, ...]


def suggest(payer_name: str, reference: str | None, amount: int, candidates: list[Candidate],
            limit: int = 5) -> list[Suggestion]:
    """The likeliest invoices for a payment, best first (only candidates with at least one reason)."""
    numbers = invoice_numbers_in(payer_name) | invoice_numbers_in(reference or "")
    key = payer_key(_without_invoice_numbers(payer_name))
    out = []
    for c in candidates:
        score, reasons = 0, []
        if c.invoice_no in numbers:
            score += 100
            reasons.append("請求書番号が一致")
        if amount == c.outstanding:
            score += 40
            reasons.append("金額が未収額と一致")
        customer_key = payer_key(c.customer_kana) or payer_key(c.customer_name)
        if key and customer_key and key == customer_key:
            score += 50
            reasons.append("振込名義がフリガナと一致")
        elif key and customer_key and len(key) >= 3 and (key in customer_key or customer_key in key):
            score += 25
            reasons.append("振込名義がフリガナの一部と一致")
        if score:
            out.append(Suggestion(c, score, tuple(reasons)))
    out.sort(key=lambda s: (-s.score, s.candidate.invoice_id))
    return out[:limit]


def _without_invoice_numbers(text: str) -> str:
    return _INVOICE_NO.sub("", unicodedata.normalize("NFKC", text or ""))
