"""The 預金口座振替 (種別コード 91) request and result file: 120-byte records exchanged with the bank.

The operator (委託者) sends a request file of what to withdraw from each customer's account on one 引落日;
the bank answers with the same layout, each data record's 振替結果コード filled and the trailer's
振替済/振替不能 counts and amounts. Records: header (データ区分 1), one data record (2) per withdrawal,
trailer (8), end (9). Numeric fields are zero-filled, text fields left-aligned and space-filled in the
Zengin characters (付録1). The layouts follow the JBA layout (reference: japan-billing.md 1a); where a
bank's own spec differs, the bank wins: adjust the tables. Line breaks, EOF and the character set are
read as services.integrations.zengin describes.

引落日 is MMDD without a year: reading takes the year that puts it nearest to `today`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from services.integrations.zengin import CRLF, ENCODING, ZENGIN_BYTES, ZenginFormatError, split_records
from services.platform.clock import today_in_tokyo

RECORD_LENGTH = 120
TYPE_CODE, CODE_KIND_JIS = "91", "0"
RESULT_CODES = {0: "振替済", 1: "資金不足", 2: "取引なし", 3: "預金者の都合による振替停止",
                4: "預金口座振替依頼書なし", 8: "委託者の都合による振替停止", 9: "その他"}
TRANSFERRED = 0
ACCOUNT_TYPES = {1: "普通", 2: "当座", 3: "納税準備預金", 9: "その他"}
CONSIGNOR_ACCOUNT_TYPES = (1, 2, 9)
NEW_CODES = {0: "その他", 1: "第1回引落分", 2: "変更分"}
MAX_AMOUNT = 10 ** 10 - 1  # 引落金額 N(10)
N, C = True, False  # numeric (zero-filled) / character (space-filled)

# (field, width, numeric) per record kind; a field not given is written as spaces (dummy) or zeros.
HEADER = (("kind", 1, N), ("type_code", 2, N), ("code_kind", 1, N), ("consignor_code", 10, N),
          ("consignor_name", 40, C), ("withdrawal_date", 4, N), ("bank_code", 4, N), ("bank_name", 15, C),
          ("branch_code", 3, N), ("branch_name", 15, C), ("account_type", 1, N), ("account_number", 7, N),
          ("dummy", 17, C))
DATA = (("kind", 1, N), ("bank_code", 4, N), ("bank_name", 15, C), ("branch_code", 3, N), ("branch_name", 15, C),
        ("dummy1", 4, C), ("account_type", 1, N), ("account_number", 7, N), ("holder_name", 30, C),
        ("amount", 10, N), ("new_code", 1, N), ("customer_number", 20, N), ("result_code", 1, N), ("dummy2", 8, C))
TRAILER = (("kind", 1, N), ("total_count", 6, N), ("total_amount", 12, N), ("transferred_count", 6, N),
           ("transferred_amount", 12, N), ("failed_count", 6, N), ("failed_amount", 12, N), ("dummy", 65, C))
END = (("kind", 1, N), ("dummy", 119, C))

ZENGIN_CHARACTERS = frozenset(bytes([b]).decode(ENCODING) for b in ZENGIN_BYTES)
_FULL_KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンァィゥェォャュョッヮヵヶ"
_HALF_KANA = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｱｲｳｴｵﾔﾕﾖﾂﾜｶｹ"
# ー becomes '-' (as Diva.Zengin and the bank sandbox do; some banks want ｰ, which the readers also accept).
_TO_ZENGIN = dict(zip(_FULL_KANA, _HALF_KANA, strict=True)) | {"\u3099": "ﾞ", "\u309a": "ﾟ", "ー": "-", "・": ".",
                                                                "¥": "\\"}


class ZenginValueError(ValueError):
    """A value the Zengin file cannot carry (a name in kanji, a 6-digit account number, ...)."""


@dataclass(frozen=True)
class DebitHeader:
    """The request's header: the operator (委託者) and its account that receives the money."""

    consignor_code: str  # 委託者コード, 10 digits given by the bank
    consignor_name: str  # half-width kana, up to 40
    withdrawal_date: date  # 引落日 (written as MMDD)
    bank_code: str  # 4 digits
    bank_name: str  # up to 15, may be empty
    branch_code: str  # 3 digits
    branch_name: str  # up to 15, may be empty
    account_type: int  # 1 普通, 2 当座, 9 その他
    account_number: str  # 7 digits


@dataclass(frozen=True)
class DebitItem:
    """One withdrawal from a customer's account, and the bank's 振替結果コード in a result file."""

    bank_code: str  # 4 digits
    bank_name: str  # up to 15, may be empty
    branch_code: str  # 3 digits
    branch_name: str  # up to 15, may be empty
    account_type: int  # ACCOUNT_TYPES
    account_number: str  # 7 digits
    holder_name: str  # 預金者名, half-width kana, up to 30
    amount: int  # yen, 1 to 9,999,999,999
    new_code: int  # NEW_CODES
    customer_number: str  # up to 20 digits, written zero-filled, read back without leading zeros
    result_code: int = TRANSFERRED  # RESULT_CODES


@dataclass(frozen=True)
class DebitResult:
    """A result file: the request's header and items with result codes, and the trailer's totals."""

    header: DebitHeader
    items: tuple[DebitItem, ...]
    total_count: int
    total_amount: int
    transferred_count: int
    transferred_amount: int
    failed_count: int
    failed_amount: int


def to_zengin_kana(text: str) -> str:
    """A name in kana or ASCII (full or half width) in Zengin characters.

    Hiragana and katakana become half-width katakana, small kana large (ｯ -> ﾂ), ー a hyphen '-', ・ a
    period, letters upper case. Kanji and anything else without a Zengin form raise ZenginValueError.
    """
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).upper())
    converted = "".join(_TO_ZENGIN.get(ch, ch) for ch in
                        (chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in decomposed))
    bad = sorted({ch for ch in converted if ch not in ZENGIN_CHARACTERS})
    if bad:
        raise ZenginValueError(f"{text!r} has characters without a Zengin form: {' '.join(bad)} (write it in kana)")
    return converted


def write_request(header: DebitHeader, items: list[DebitItem], *, line_breaks: bool = False) -> bytes:
    """The request file for the bank: every result code 0, the trailer's 振替済/不能 fields 0.

    Raises ZenginValueError naming the field (`header.bank_code`, `items[3].holder_name`) that cannot go in.
    With `line_breaks`, CR+LF follows each record (only for banks that ask for it).
    """
    for index, item in enumerate(items):
        if item.result_code != TRANSFERRED:
            raise ZenginValueError(f"items[{index}].result_code: a request carries 0, not {item.result_code!r}")
    return _file(header, items, result=False, line_breaks=line_breaks)


def write_result(header: DebitHeader, items: list[DebitItem], *, line_breaks: bool = False) -> bytes:
    """A result file as the bank writes it: 振替済 counts result code 0, 振替不能 the rest."""
    return _file(header, items, result=True, line_breaks=line_breaks)


def read_request(content: bytes, *, today: date | None = None) -> tuple[DebitHeader, list[DebitItem]]:
    """Read a request file: its header and items; every result code and 振替済/不能 field must be 0."""
    result = _read(content, today)
    for index, item in enumerate(result.items):
        if item.result_code != TRANSFERRED:
            raise ZenginFormatError(f"record {index + 2}: a request carries 振替結果コード 0, not {item.result_code}")
    if (result.transferred_count, result.transferred_amount, result.failed_count, result.failed_amount) != (0,) * 4:
        raise ZenginFormatError("the trailer of a request carries 0 in its 振替済 and 振替不能 fields")
    return result.header, list(result.items)


def read_result(content: bytes, *, today: date | None = None) -> DebitResult:
    """Read the bank's result file and check the trailer's 振替済 and 振替不能 counts and amounts."""
    result = _read(content, today)
    done = [item.amount for item in result.items if item.result_code == TRANSFERRED]
    failed = [item.amount for item in result.items if item.result_code != TRANSFERRED]
    if (result.transferred_count, result.transferred_amount) != (len(done), sum(done)):
        raise ZenginFormatError(f"the trailer's 振替済 is {result.transferred_count} items / {result.transferred_amount}"
                                f" yen, the records with code 0 are {len(done)} / {sum(done)} yen")
    if (result.failed_count, result.failed_amount) != (len(failed), sum(failed)):
        raise ZenginFormatError(f"the trailer's 振替不能 is {result.failed_count} items / {result.failed_amount} yen,"
                                f" the records with another code are {len(failed)} / {sum(failed)} yen")
    return result


def _file(header: DebitHeader, items: list[DebitItem], *, result: bool, line_breaks: bool) -> bytes:
    _check_header(header, "header")
    if not items:
        raise ZenginValueError("items: a file needs at least one item")
    for index, item in enumerate(items):
        _check_item(item, f"items[{index}]")
    total = sum(item.amount for item in items)
    if len(items) > 999_999 or total >= 10 ** 12:
        raise ZenginValueError(f"items: {len(items)} items of {total} yen do not fit the trailer")
    done = [item.amount for item in items if item.result_code == TRANSFERRED] if result else []
    failed = [item.amount for item in items if item.result_code != TRANSFERRED] if result else []
    records = [_pack(HEADER, {"kind": 1, "type_code": TYPE_CODE, "code_kind": CODE_KIND_JIS,
                              **vars(header), "withdrawal_date": header.withdrawal_date.strftime("%m%d")})]
    records += [_pack(DATA, {"kind": 2, **vars(item), "customer_number": item.customer_number.zfill(20)})
                for item in items]
    records.append(_pack(TRAILER, {"kind": 8, "total_count": len(items), "total_amount": total,
                                   "transferred_count": len(done), "transferred_amount": sum(done),
                                   "failed_count": len(failed), "failed_amount": sum(failed)}))
    records.append(_pack(END, {"kind": 9}))
    separator = CRLF if line_breaks else b""
    return b"".join(record + separator for record in records)


def _pack(layout: tuple[tuple[str, int, bool], ...], values: dict[str, object]) -> bytes:
    out = []
    for name, width, numeric in layout:
        value = values.get(name)
        if numeric:
            out.append(str(value if value is not None else 0).rjust(width, "0").encode("ascii"))
        else:
            out.append(str(value or "").ljust(width).encode(ENCODING))
    return b"".join(out)


def _read(content: bytes, today: date | None) -> DebitResult:
    records = split_records(content, RECORD_LENGTH)
    kinds = "".join(chr(record[0]) for record in records)
    if not re.fullmatch(r"12*89", kinds):
        raise ZenginFormatError("records are not one header, data..., one trailer and one end record at the end: "
                                f"{kinds[:60]}{'...' if len(kinds) > 60 else ''}")
    head = _unpack(HEADER, records[0], 1)
    if (head["type_code"], head["code_kind"]) != (TYPE_CODE, CODE_KIND_JIS):
        raise ZenginFormatError(f"not a 口座振替 file in JIS (種別コード {TYPE_CODE}, コード区分 {CODE_KIND_JIS}): "
                                f"{head['type_code']}, {head['code_kind']}")
    header = DebitHeader(head["consignor_code"], head["consignor_name"],
                         _withdrawal_date(head["withdrawal_date"], today or today_in_tokyo()), head["bank_code"],
                         head["bank_name"], head["branch_code"], head["branch_name"], int(head["account_type"]),
                         head["account_number"])
    items = []
    for number, record in enumerate(records[1:-2], 2):
        row = _unpack(DATA, record, number)
        items.append(DebitItem(row["bank_code"], row["bank_name"], row["branch_code"], row["branch_name"],
                               int(row["account_type"]), row["account_number"], row["holder_name"], int(row["amount"]),
                               int(row["new_code"]), row["customer_number"].lstrip("0") or "0",
                               int(row["result_code"])))
    try:
        _check_header(header, "record 1")
        for number, item in enumerate(items, 2):
            _check_item(item, f"record {number}")
    except ZenginValueError as exc:
        raise ZenginFormatError(str(exc)) from exc
    trailer = {name: int(value) for name, value in _unpack(TRAILER, records[-2], len(records) - 1).items()
               if name != "dummy"}
    if (trailer["total_count"], trailer["total_amount"]) != (len(items), sum(item.amount for item in items)):
        raise ZenginFormatError(f"the trailer's 合計 is {trailer['total_count']} items / {trailer['total_amount']} yen,"
                                f" the data records are {len(items)} / {sum(item.amount for item in items)} yen")
    return DebitResult(header, tuple(items), trailer["total_count"], trailer["total_amount"],
                       trailer["transferred_count"], trailer["transferred_amount"], trailer["failed_count"],
                       trailer["failed_amount"])


def _unpack(layout: tuple[tuple[str, int, bool], ...], record: bytes, number: int) -> dict[str, str]:
    fields, position = {}, 0
    for name, width, numeric in layout:
        chunk = record[position:position + width]
        if numeric and not chunk.isdigit():
            raise ZenginFormatError(f"record {number}, position {position + 1}: {name} is not numeric: {chunk!r}")
        fields[name] = chunk.decode(ENCODING) if numeric else chunk.decode(ENCODING).rstrip(" ")
        position += width
    return fields


def _withdrawal_date(mmdd: str, today: date) -> date:
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(year, int(mmdd[:2]), int(mmdd[2:])))
        except ValueError:
            pass
    if not candidates:
        raise ZenginFormatError(f"record 1, position 55: 引落日 {mmdd} is not a date")
    return min(candidates, key=lambda day: abs(day - today))


def _check_header(header: DebitHeader, where: str) -> None:
    _digits(where, "consignor_code", header.consignor_code, 10)
    _text(where, "consignor_name", header.consignor_name, 40, required=True)
    _expect(where, "withdrawal_date", isinstance(header.withdrawal_date, date), "must be a date")
    _bank_account(where, header.bank_code, header.bank_name, header.branch_code, header.branch_name,
                  header.account_type, header.account_number, CONSIGNOR_ACCOUNT_TYPES)


def _check_item(item: DebitItem, where: str) -> None:
    _bank_account(where, item.bank_code, item.bank_name, item.branch_code, item.branch_name, item.account_type,
                  item.account_number, tuple(ACCOUNT_TYPES))
    _text(where, "holder_name", item.holder_name, 30, required=True)
    _expect(where, "amount", _is_int(item.amount) and 1 <= item.amount <= MAX_AMOUNT,
            f"must be whole yen from 1 to {MAX_AMOUNT:,}, not {item.amount!r}")
    _expect(where, "new_code", _is_int(item.new_code) and item.new_code in NEW_CODES,
            f"must be one of {sorted(NEW_CODES)}, not {item.new_code!r}")
    _digits(where, "customer_number", item.customer_number, 20, exact=False)
    _expect(where, "result_code", _is_int(item.result_code) and item.result_code in RESULT_CODES,
            f"{item.result_code!r} is not a 振替結果コード ({sorted(RESULT_CODES)})")


def _bank_account(where: str, bank_code: str, bank_name: str, branch_code: str, branch_name: str,
                  account_type: int, account_number: str, account_types: tuple[int, ...]) -> None:
    _digits(where, "bank_code", bank_code, 4)
    _text(where, "bank_name", bank_name, 15, required=False)
    _digits(where, "branch_code", branch_code, 3)
    _text(where, "branch_name", branch_name, 15, required=False)
    _expect(where, "account_type", _is_int(account_type) and account_type in account_types,
            f"must be one of {list(account_types)}, not {account_type!r}")
    _digits(where, "account_number", account_number, 7)


def _digits(where: str, name: str, value: str, width: int, *, exact: bool = True) -> None:
    ok = isinstance(value, str) and value.isascii() and value.isdigit() and (
        len(value) == width if exact else len(value) <= width)
    _expect(where, name, ok,
            f"must be {'' if exact else 'up to '}{width} digits, not {value!r}")


def _text(where: str, name: str, value: str, width: int, *, required: bool) -> None:
    _expect(where, name, isinstance(value, str), f"must be text, not {value!r}")
    bad = sorted({ch for ch in value if ch not in ZENGIN_CHARACTERS})
    _expect(where, name, not bad,
            f"has {' '.join(map(repr, bad))} outside the Zengin characters (see to_zengin_kana)")
    _expect(where, name, len(value) <= width, f"{len(value)} characters, the field holds {width}")
    _expect(where, name, bool(value.strip()) or not required, "is required")


def _expect(where: str, name: str, ok: bool, problem: str) -> None:
    if not ok:
        raise ZenginValueError(f"{where}.{name}: {problem}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
