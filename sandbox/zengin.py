"""The bank's side of Zengin (全銀協) files: it writes 入出金取引明細 statements and reads 口座振替 requests.

Statement: 200-byte records in Shift_JIS (cp932), no line breaks. Records: header (データ区分 1, 種別コード
03), one data record (2) per transaction of an ordinary deposit account, trailer (8) with deposit/withdrawal
counts and totals, the closing balance and the data record count, end (9). Numeric fields are right-aligned
zero-filled; character fields are half-width katakana / upper-case alphanumerics, left-aligned and
space-filled. Dates are YYMMDD in the Japanese era (和暦), as the format requires.

口座振替 (種別コード 91): 120-byte records, header (1) / data (2) / trailer (8) / end (9), without line
breaks or with CR+LF after each record, optionally ending in 0x1A. The bank checks a request, and answers
with the same records, each 振替結果コード (byte 112) set and the trailer's 振替済/不能 counts and amounts
filled, CR+LF after each record as banks deliver downloads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
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


DEBIT_LENGTH = 120
# digits, A-Z, space, the listed symbols (0x5C is ¥), ｢ ｣ ｦ ｰ and ｱ..ﾝ ﾞ ﾟ
DEBIT_BYTES = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ()+,-./:?'\\") | {0xA2, 0xA3, 0xA6,
                                                                                 *range(0xB0, 0xE0)}
DEBIT_RESULT_CODES = frozenset({0, 1, 2, 3, 4, 8, 9})


class DebitFileError(ValueError):
    """A 口座振替 file the bank refuses; the message names the byte (1-based)."""


@dataclass(frozen=True)
class DebitRequest:
    """A 口座振替 request the bank accepted: its 120-byte records (header, data..., trailer, end) and totals."""

    records: tuple[bytes, ...]
    withdrawal_date: date
    count: int
    amount: int


def read_debit_request(content: bytes, today: date) -> DebitRequest:
    """Check a 口座振替 request file as the bank does; the 引落日 (MMDD) is taken in the year nearest `today`."""
    body = content[:-1] if content.endswith(b"\x1a") else content
    size = DEBIT_LENGTH + 2 if body[DEBIT_LENGTH:DEBIT_LENGTH + 2] == b"\r\n" else DEBIT_LENGTH
    records = []
    for offset in range(0, len(body), size):
        record = body[offset:offset + DEBIT_LENGTH]
        bad = next((i for i, byte in enumerate(record) if byte not in DEBIT_BYTES), None)
        if bad is not None:
            raise DebitFileError(f"byte {offset + bad + 1}: 0x{record[bad]:02X} is not a Zengin character")
        if size > DEBIT_LENGTH and body[offset + DEBIT_LENGTH:offset + size] != b"\r\n":
            raise DebitFileError(f"byte {offset + DEBIT_LENGTH + 1}: each record must be followed by CR+LF")
        records.append(record)
    if not body or len(body) % size:
        raise DebitFileError(f"{len(body)} bytes is not a whole number of {size}-byte records")
    kinds = bytes(record[0] for record in records)
    if not re.fullmatch(rb"12*89", kinds):
        raise DebitFileError(f"records must be header, data..., trailer, end; found {kinds[:40].decode(ENCODING)}")

    def digits(index: int, start: int, end: int, name: str) -> int:
        field = records[index][start:end]
        if not field.isdigit():
            raise DebitFileError(f"byte {index * size + start + 1}: {name} must be digits")
        return int(field)

    if records[0][1:4] != b"910":
        raise DebitFileError("byte 2: not a 口座振替 request (種別コード 91, コード区分 0)")
    digits(0, 4, 14, "委託者コード")
    mmdd = digits(0, 54, 58, "引落日")
    withdrawal = _nearest(mmdd // 100, mmdd % 100, today)
    if withdrawal is None:
        raise DebitFileError(f"byte 55: 引落日 {mmdd:04d} is not a date")
    total = 0
    for index in range(1, len(records) - 2):
        record = records[index]
        for start, end, name in ((1, 5, "引落銀行番号"), (20, 23, "引落支店番号"), (43, 50, "口座番号"),
                                 (91, 111, "顧客番号")):
            digits(index, start, end, name)
        if record[42:43] not in (b"1", b"2", b"3", b"9"):
            raise DebitFileError(f"byte {index * size + 43}: 預金種目 must be 1, 2, 3 or 9")
        if record[90:91] not in (b"0", b"1", b"2"):
            raise DebitFileError(f"byte {index * size + 91}: 新規コード must be 0, 1 or 2")
        if record[111:112] != b"0":
            raise DebitFileError(f"byte {index * size + 112}: 振替結果コード must be 0 in a request")
        amount = digits(index, 80, 90, "引落金額")
        if amount == 0:
            raise DebitFileError(f"byte {index * size + 81}: 引落金額 must be more than 0")
        total += amount
    trailer = len(records) - 2
    count = len(records) - 3
    if (digits(trailer, 1, 7, "合計件数"), digits(trailer, 7, 19, "合計金額")) != (count, total):
        raise DebitFileError(f"byte {trailer * size + 2}: the trailer does not count {count} records of {total} yen")
    if records[trailer][19:55] != b"0" * 36:
        raise DebitFileError(f"byte {trailer * size + 20}: 振替済/振替不能 must be 0 in a request")
    return DebitRequest(tuple(records), withdrawal, count, total)


def debit_result(request: DebitRequest, code_for: Callable[[str, str], int]) -> bytes:
    """The result file: each record's 振替結果コード from code_for(口座番号, 顧客番号), the trailer filled, CR+LF."""
    header, *data, trailer, end = request.records
    answered, done, failed = [], [0, 0], [0, 0]
    for record in data:
        code = code_for(record[43:50].decode(), record[91:111].decode())
        amount = int(record[80:90])
        tally = done if code == 0 else failed
        tally[0] += 1
        tally[1] += amount
        answered.append(record[:111] + str(code).encode() + record[112:])
    trailer = (trailer[:19] + f"{done[0]:06d}{done[1]:012d}{failed[0]:06d}{failed[1]:012d}".encode()
               + trailer[55:])
    return b"".join(record + b"\r\n" for record in (header, *answered, trailer, end))


def _nearest(month: int, day: int, today: date) -> date | None:
    """The date with this month and day nearest to `today` (last, this or next year)."""
    found = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return min(found, key=lambda candidate: abs(candidate - today)) if found else None
