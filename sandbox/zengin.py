"""Writing a Zengin (全銀協) 入出金取引明細 statement: 200-byte records in Shift_JIS (cp932), no line breaks.

Records: header (データ区分 1, 種別コード 03), one data record (2) per transaction of an ordinary
deposit account, trailer (8) with deposit/withdrawal counts and totals, the closing balance and the
data record count, end (9). Numeric fields are right-aligned zero-filled; character fields are
half-width katakana / upper-case alphanumerics, left-aligned and space-filled. Dates are YYMMDD in
the Japanese era (和暦), as the format requires.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

RECORD_LENGTH = 200
ENCODING = "cp932"
# 取引区分
KIND_TRANSFER = "11"  # 振込
KIND_OTHER = "18"  # その他 (used for withdrawals here)

_SMALL_TO_LARGE = str.maketrans("ｧｨｩｪｫｬｭｮｯ", "ｱｲｳｴｵﾔﾕﾖﾂ")
_ALLOWED = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ().,-/\\｢｣") | {chr(c) for c in range(0xFF66, 0xFFA0)} - {"ｰ"}


def _full_to_half_kana() -> dict[str, str]:
    """Map full-width katakana (including voiced and semi-voiced) to half-width sequences, via NFKC."""
    table: dict[str, str] = {}
    half = [chr(c) for c in range(0xFF66, 0xFF9E)]
    for h in half:
        for suffix in ("", "ﾞ", "ﾟ"):
            full = unicodedata.normalize("NFKC", h + suffix)
            if len(full) == 1 and full not in table:
                table[full] = h + suffix
    table["ー"] = "-"
    table["・"] = "."
    return table


_KANA = _full_to_half_kana()


class ZenginCharacterError(ValueError):
    """A name has a character the Zengin character set cannot carry."""


def to_zengin_kana(text: str) -> str:
    """Turn a name in katakana/hiragana/ASCII (full or half width) into Zengin half-width characters.

    Hiragana becomes katakana, full width becomes half width, small kana become large, letters upper
    case, the long vowel mark a hyphen. Kanji and other characters raise ZenginCharacterError.
    """
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if "ぁ" <= ch <= "ゖ":
            ch = chr(ord(ch) + 0x60)  # hiragana -> katakana
        if ch in _KANA:
            out.append(_KANA[ch])
            continue
        if ch == "\u3000":
            out.append(" ")
            continue
        ch = unicodedata.normalize("NFKC", ch) if ch not in _ALLOWED else ch
        out.append(ch.upper())
    converted = "".join(out).translate(_SMALL_TO_LARGE)
    bad = sorted({c for c in converted if c not in _ALLOWED})
    if bad:
        raise ZenginCharacterError(f"not allowed in a Zengin file: {''.join(bad)}")
    return converted


def wareki_yymmdd(day: date) -> str:
    """YYMMDD in the Japanese era (Reiwa from 2019-05-01, Heisei before)."""
    year = day.year - 2018 if day >= date(2019, 5, 1) else day.year - 1988
    return f"{year:02d}{day.month:02d}{day.day:02d}"


def _n(value: int, width: int) -> bytes:
    text = str(value)
    if value < 0 or len(text) > width:
        raise ValueError(f"{value} does not fit N({width})")
    return text.rjust(width, "0").encode("ascii")


def _c(text: str, width: int) -> bytes:
    raw = to_zengin_kana(text).encode(ENCODING)[:width]
    return raw + b" " * (width - len(raw))


def _record(*parts: bytes) -> bytes:
    record = b"".join(parts)
    if len(record) != RECORD_LENGTH:
        raise AssertionError(f"record is {len(record)} bytes, not {RECORD_LENGTH}")
    return record


@dataclass(frozen=True)
class Account:
    """The statement's account (the operator's receiving account)."""

    bank_code: str = "9900"
    bank_name: str = "ｻﾝﾄﾞﾎﾞｯｸｽｷﾞﾝｺｳ"
    branch_code: str = "001"
    branch_name: str = "ﾎﾝﾃﾝ"
    deposit_type: int = 1  # 普通預金
    account_number: str = "1234567"
    account_name: str = "ｶ)ﾃﾞﾓﾂｳｼﾝ"


@dataclass(frozen=True)
class Entry:
    """One transaction: a deposit (incoming transfer) or a withdrawal."""

    inquiry_number: int
    booked_on: date
    deposit: bool
    amount: int
    payer_name: str = ""
    payer_code: str = ""
    remitting_bank: str = ""
    remitting_branch: str = ""
    summary: str = ""
    edi: str = ""


def statement(account: Account, start: date, end: date, created_on: date, opening_balance: int,
              entries: list[Entry]) -> bytes:
    """The 入出金取引明細 file for `entries` booked between `start` and `end` (inclusive)."""
    header = _record(
        b"1", b"03", b"0", wareki_yymmdd(created_on).encode(), wareki_yymmdd(start).encode(),
        wareki_yymmdd(end).encode(), account.bank_code.encode(), _c(account.bank_name, 15),
        account.branch_code.encode(), _c(account.branch_name, 15), b"000", _n(account.deposit_type, 1),
        _n(int(account.account_number), 10), _c(account.account_name, 40), b"1" if opening_balance >= 0 else b"2",
        b"1", _n(abs(opening_balance), 14), b" " * 71,
    )
    records = [header]
    balance = opening_balance
    totals = {True: [0, 0], False: [0, 0]}
    for entry in entries:
        day = wareki_yymmdd(entry.booked_on).encode()
        records.append(_record(
            b"2", _n(entry.inquiry_number, 8), day, day, b"1" if entry.deposit else b"2",
            (KIND_TRANSFER if entry.deposit else KIND_OTHER).encode(), _n(entry.amount, 12), _n(0, 12),
            b"0" * 6, b"0" * 6, b"0", b"0" * 7, account.branch_code.encode(),
            _n(int(entry.payer_code or 0), 10), _c(entry.payer_name, 48), _c(entry.remitting_bank, 15),
            _c(entry.remitting_branch, 15), _c(entry.summary, 20), _c(entry.edi, 20), b" ",
        ))
        balance += entry.amount if entry.deposit else -entry.amount
        totals[entry.deposit][0] += 1
        totals[entry.deposit][1] += entry.amount
    records.append(_record(
        b"8", _n(totals[True][0], 6), _n(totals[True][1], 13), _n(totals[False][0], 6), _n(totals[False][1], 13),
        b"1" if balance >= 0 else b"2", _n(abs(balance), 14), _n(len(entries), 7), b" " * 139,
    ))
    records.append(_record(b"9", b" " * 199))
    return b"".join(records)
