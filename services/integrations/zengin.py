"""Zengin (全銀協) fixed-length files: the character set and record framing they share, and a strict reader
of the 入出金取引明細 statement (普通預金, 200-byte records) that the bank sends.

Framing: records follow each other without line breaks, or each is followed by CR+LF (as banks deliver
downloads); one 0x1A (EOF) may end the file; a bare CR or LF is refused. Every byte must be a Zengin
character: digits, A-Z, space, ' ( ) : + , ¥ (0x5C) - . / ?, ｢ ｣ and half-width katakana (付録1 使用文字),
plus the small kana and ｡ ､ ･ that banks' files carry in practice. Errors name the byte (1-based, like
the specs' 桁位置).

Statement: per account a header (データ区分 1), one data record (2) per transaction and a trailer (8)
whose counts, totals and closing balance must agree with the data records; one end record (9) closes
the file. Numeric fields are zero-filled digits; text fields are padded with spaces. Dates are YYMMDD in
the Japanese era (wareki_date). Anything else is refused with ZenginFormatError: a statement we cannot
read exactly is not compared at all.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from services.platform.clock import today_in_tokyo

RECORD_LENGTH = 200
ENCODING = "cp932"  # the single-byte part of Shift_JIS is JIS X 0201 (0x5C is ¥)
DEPOSIT, WITHDRAWAL = 1, 2  # 入払区分
CRLF, EOF = b"\r\n", b"\x1a"
# 付録1 使用文字: what the product writes.
ZENGIN_BYTES = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ '()+,-./:?\\") | {0xA2, 0xA3, 0xA6,
                                                                                   *range(0xB0, 0xE0)}
# ｡ ､ ･ and small kana: outside 付録1 but seen in banks' files, so read.
READABLE_BYTES = ZENGIN_BYTES | {0xA1, 0xA4, 0xA5, *range(0xA7, 0xB0)}
REIWA_START, HEISEI_START = date(2019, 5, 1), date(1989, 1, 8)

# (name, width, numeric) per record type of 入出金取引明細 (普通預金).
HEADER = [("kind", 1, True), ("type_code", 2, True), ("code_kind", 1, True), ("created", 6, True),
          ("from", 6, True), ("to", 6, True), ("bank_code", 4, True), ("bank_name", 15, False),
          ("branch_code", 3, True), ("branch_name", 15, False), ("dummy1", 3, True), ("deposit_type", 1, True),
          ("account_number", 10, True), ("account_name", 40, False), ("overdraft", 1, True),
          ("passbook", 1, True), ("opening_balance", 14, True), ("dummy2", 71, False)]
DATA = [("kind", 1, True), ("inquiry_number", 8, True), ("booked", 6, True), ("value_date", 6, True),
        ("in_out", 1, True), ("tx_kind", 2, True), ("amount", 12, True), ("other_bank_bills", 12, True),
        ("exchange_date", 6, True), ("dishonor_date", 6, True), ("bill_kind", 1, True), ("bill_number", 7, True),
        ("branch", 3, True), ("payer_code", 10, True), ("payer_name", 48, False), ("remitting_bank", 15, False),
        ("remitting_branch", 15, False), ("summary", 20, False), ("edi", 20, False), ("dummy", 1, False)]
TRAILER = [("kind", 1, True), ("in_count", 6, True), ("in_total", 13, True), ("out_count", 6, True),
           ("out_total", 13, True), ("overdraft", 1, True), ("closing_balance", 14, True),
           ("data_count", 7, True), ("dummy", 139, False)]
END = [("kind", 1, True), ("dummy", 199, False)]
LAYOUTS = {"1": HEADER, "2": DATA, "8": TRAILER, "9": END}


class ZenginFormatError(ValueError):
    """The file is not a well-formed Zengin file of the expected kind."""


def split_records(content: bytes, length: int) -> list[bytes]:
    """The fixed-length records of a Zengin file, every byte checked against the Zengin character set.

    Accepts no line breaks or CR+LF after every record, and one trailing 0x1A; refuses anything else,
    naming the byte position.
    """
    body = content[:-1] if content.endswith(EOF) else content
    step = length + len(CRLF) if body[length:length + len(CRLF)] == CRLF else length
    records = []
    for number, start in enumerate(range(0, len(body), step), 1):
        record = body[start:start + length]
        for position, byte in enumerate(record, 1):
            if byte not in READABLE_BYTES:
                problem = ("is a line break that is not CR+LF after a record" if byte in CRLF
                           else "is not a Zengin character")
                raise ZenginFormatError(f"byte {start + position} (record {number}, position {position}): "
                                        f"0x{byte:02X} {problem}")
        if len(record) < length:
            raise ZenginFormatError(f"the file ends inside record {number}: {len(body)} bytes is not a whole number "
                                    f"of {length}-byte records" + (" each followed by CR+LF" if step > length else ""))
        if body[start + length:start + step] != CRLF[:step - length]:
            raise ZenginFormatError(f"byte {start + length + 1}: record {number} is not followed by CR+LF")
        records.append(record)
    if not records:
        raise ZenginFormatError("the file is empty")
    return records


def parse_record(raw: bytes) -> dict[str, Any]:
    """Split one 200-byte statement record by its layout: numeric fields must be digits."""
    if len(raw) != RECORD_LENGTH:
        raise ZenginFormatError(f"a record is {len(raw)} bytes, not {RECORD_LENGTH}")
    layout = LAYOUTS.get(chr(raw[0]))
    if layout is None:
        raise ZenginFormatError(f"unknown record kind {raw[:1]!r}")
    fields: dict[str, Any] = {}
    pos = 0
    for name, width, numeric in layout:
        chunk = raw[pos:pos + width]
        pos += width
        if numeric:
            if not chunk.isdigit():
                raise ZenginFormatError(f"{name} is not numeric: {chunk!r}")
            fields[name] = int(chunk)
        else:
            fields[name] = chunk.decode(ENCODING).rstrip(" ")
    return fields


def parse_statements(content: bytes, *, today: date | None = None) -> list[dict[str, Any]]:
    """Parse a 入出金取引明細 file of one or more accounts and check each account's structure and totals.

    Returns one {"header", "data", "trailer", "period": (from, to)} per account, in file order; header
    dates are read by wareki_date against `today`. Raises ZenginFormatError.
    """
    records = [parse_record(raw) for raw in split_records(content, RECORD_LENGTH)]
    kinds = "".join(str(r["kind"]) for r in records)
    if not re.fullmatch(r"(12*8)+9", kinds):
        raise ZenginFormatError("records are not (header, data..., trailer) per account and one end record "
                                f"at the end: {kinds[:60]}{'...' if len(kinds) > 60 else ''}")
    return [_statement(records[m.start():m.end()], today) for m in re.finditer(r"12*8", kinds)]


def parse_statement(content: bytes, *, today: date | None = None) -> dict[str, Any]:
    """Parse a 入出金取引明細 file of exactly one account (see parse_statements)."""
    statements = parse_statements(content, today=today)
    if len(statements) != 1:
        raise ZenginFormatError(f"the file holds {len(statements)} accounts, not one")
    return statements[0]


def _statement(records: list[dict[str, Any]], today: date | None) -> dict[str, Any]:
    header, data, trailer = records[0], records[1:-1], records[-1]
    account = f"account {header['account_number']}"
    if (header["type_code"], header["code_kind"]) != (3, 0):
        raise ZenginFormatError(f"{account}: not a 入出金取引明細 (種別コード 03, コード区分 0)")
    if any(d["in_out"] not in (DEPOSIT, WITHDRAWAL) for d in data):
        raise ZenginFormatError(f"{account}: 入払区分 must be 1 or 2")
    deposits = [d for d in data if d["in_out"] == DEPOSIT]
    withdrawals = [d for d in data if d["in_out"] == WITHDRAWAL]
    if trailer["data_count"] != len(data):
        raise ZenginFormatError(f"{account}: the trailer counts {trailer['data_count']} data records, "
                                f"the file has {len(data)}")
    if (trailer["in_count"], trailer["in_total"]) != (len(deposits), sum(d["amount"] for d in deposits)):
        raise ZenginFormatError(f"{account}: the trailer's deposit count or total does not match the data records")
    if (trailer["out_count"], trailer["out_total"]) != (len(withdrawals), sum(d["amount"] for d in withdrawals)):
        raise ZenginFormatError(f"{account}: the trailer's withdrawal count or total does not match the data records")
    if trailer["closing_balance"] != header["opening_balance"] + trailer["in_total"] - trailer["out_total"]:
        raise ZenginFormatError(f"{account}: the closing balance is not the opening balance plus deposits "
                                "minus withdrawals")
    wareki_date(header["created"], today=today)
    period = (wareki_date(header["from"], today=today), wareki_date(header["to"], today=today))
    return {"header": header, "data": data, "trailer": trailer, "period": period}


def wareki_date(yymmdd: int, *, today: date | None = None) -> date:
    """The date of a YYMMDD field in the Japanese era (和暦).

    YY is 令和 (2018 + YY) unless that date is after `today` (default: today in Tokyo), then 平成
    (1988 + YY); a date neither era had (H31 after 04-30, R1 before 05-01, 02-30) is refused.
    """
    today = today or today_in_tokyo()
    year, month, day = yymmdd // 10000, yymmdd // 100 % 100, yymmdd % 100
    reiwa = _calendar_date(2018 + year, month, day)
    if reiwa is not None and REIWA_START <= reiwa <= today:
        return reiwa
    heisei = _calendar_date(1988 + year, month, day)
    if heisei is not None and HEISEI_START <= heisei < REIWA_START:
        return heisei
    raise ZenginFormatError(f"{yymmdd:06d} is neither a 令和 date up to {today} nor a 平成 date")


def _calendar_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
