"""A strict reader of the Zengin (全銀協) 入出金取引明細 file (普通預金) that the bank sends.

The file is 200-byte records in Shift_JIS (cp932) without line breaks: one header (データ区分 1),
one data record (2) per transaction, a trailer (8) whose counts, totals and closing balance must
agree with the data records, and an end record (9). Numeric fields are zero-filled digits;
character fields are half-width katakana / alphanumerics padded with spaces. Anything else is
refused with ZenginFormatError: a statement we cannot read exactly is not compared at all.
"""

from __future__ import annotations

from datetime import date
from typing import Any

RECORD_LENGTH = 200
ENCODING = "cp932"
DEPOSIT, WITHDRAWAL = 1, 2  # 入払区分

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
    """The file is not a well-formed 入出金取引明細."""


def parse_record(raw: bytes) -> dict[str, Any]:
    """Split one 200-byte record by its layout: numeric fields must be digits, text must be cp932."""
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
            try:
                fields[name] = chunk.decode(ENCODING).rstrip(" ")
            except UnicodeDecodeError as exc:
                raise ZenginFormatError(f"{name} is not Shift_JIS text: {chunk!r}") from exc
    return fields


def parse_statement(content: bytes) -> dict[str, Any]:
    """Parse a whole 入出金取引明細 file and check its structure and totals.

    Returns {"header": {...}, "data": [{...}, ...], "trailer": {...}}; raises ZenginFormatError.
    """
    if not content or len(content) % RECORD_LENGTH:
        raise ZenginFormatError(f"{len(content)} bytes is not a whole number of {RECORD_LENGTH}-byte records")
    records = [parse_record(content[i:i + RECORD_LENGTH]) for i in range(0, len(content), RECORD_LENGTH)]
    kinds = "".join(str(r["kind"]) for r in records)
    if len(kinds) < 3 or kinds[0] != "1" or kinds[-2:] != "89" or not set(kinds[1:-2]) <= {"2"}:
        raise ZenginFormatError(f"records are not header, data..., trailer, end: {kinds}")
    header, data, trailer = records[0], records[1:-2], records[-2]
    if (header["type_code"], header["code_kind"]) != (3, 0):
        raise ZenginFormatError("not a 入出金取引明細 (種別コード 03, コード区分 0)")
    if any(d["in_out"] not in (DEPOSIT, WITHDRAWAL) for d in data):
        raise ZenginFormatError("入払区分 must be 1 or 2")
    deposits = [d for d in data if d["in_out"] == DEPOSIT]
    withdrawals = [d for d in data if d["in_out"] == WITHDRAWAL]
    if trailer["data_count"] != len(data):
        raise ZenginFormatError(f"the trailer counts {trailer['data_count']} data records, the file has {len(data)}")
    if (trailer["in_count"], trailer["in_total"]) != (len(deposits), sum(d["amount"] for d in deposits)):
        raise ZenginFormatError("the trailer's deposit count or total does not match the data records")
    if (trailer["out_count"], trailer["out_total"]) != (len(withdrawals), sum(d["amount"] for d in withdrawals)):
        raise ZenginFormatError("the trailer's withdrawal count or total does not match the data records")
    if trailer["closing_balance"] != header["opening_balance"] + trailer["in_total"] - trailer["out_total"]:
        raise ZenginFormatError("the closing balance is not the opening balance plus deposits minus withdrawals")
    return {"header": header, "data": data, "trailer": trailer}


def reiwa_date(yymmdd: int) -> date:
    """The date of a YYMMDD field in the Reiwa era (令和, the era of every statement the bank sends now)."""
    year, month, day = yymmdd // 10000 + 2018, yymmdd // 100 % 100, yymmdd % 100
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ZenginFormatError(f"{yymmdd:06d} is not a date") from exc
