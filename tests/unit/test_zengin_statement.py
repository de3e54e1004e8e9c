"""The 入出金取引明細 reader: line breaks, several accounts, the character set and 和暦 dates.

Statements are written by the bank sandbox's own writer (sandbox.zengin), so the two cross-check."""

from __future__ import annotations

from datetime import date

import pytest

from sandbox.zengin import Account, Entry, statement
from services.integrations.zengin import ZenginFormatError, parse_statement, parse_statements, wareki_date

DAY = date(2026, 4, 1)
TODAY = date(2026, 12, 3)
OTHER = Account(account_number="7654321", account_name="ｶ)ﾃﾞﾓﾂｳｼﾝ ﾍﾞﾂｸﾞﾁ")


def one_account(account: Account = Account(), *entries: Entry, day: date = DAY) -> bytes:
    return statement(account, day, day, day, 1_000_000, list(entries))


def deposit(number: int, amount: int, payer: str = "ﾔﾏﾀﾞ ﾀﾛｳ") -> Entry:
    return Entry(inquiry_number=number, booked_on=DAY, deposit=True, amount=amount, payer_name=payer)


def two_accounts() -> bytes:
    """The first account's records without its end record, then the second account's with the end."""
    return one_account(Account(), deposit(1, 3300))[:-200] + one_account(OTHER, deposit(2, 5500), deposit(3, 770))


def records(content: bytes) -> list[bytes]:
    return [content[i:i + 200] for i in range(0, len(content), 200)]


def test_a_file_with_two_accounts_gives_both_in_order():
    first, second = parse_statements(two_accounts(), today=TODAY)

    assert (first["header"]["account_number"], [d["amount"] for d in first["data"]]) == (1234567, [3300])
    assert (second["header"]["account_number"], [d["amount"] for d in second["data"]]) == (7654321, [5500, 770])
    assert second["header"]["account_name"] == "ｶ)ﾃﾞﾓﾂｳｼﾝ ﾍﾞﾂｸﾞﾁ" and second["trailer"]["in_total"] == 6270
    assert first["period"] == second["period"] == (DAY, DAY)


def test_the_single_account_reader_refuses_a_file_of_two_accounts():
    assert parse_statement(one_account(Account(), deposit(1, 3300)), today=TODAY)["trailer"]["in_count"] == 1
    with pytest.raises(ZenginFormatError, match="holds 2 accounts"):
        parse_statement(two_accounts(), today=TODAY)


def test_each_accounts_trailer_is_checked():
    content = two_accounts()
    trailer = len(content) - 400  # the second account's trailer

    with pytest.raises(ZenginFormatError, match="account 7654321: the trailer's deposit count"):
        parse_statements(content[:trailer + 1] + b"000003" + content[trailer + 7:], today=TODAY)


@pytest.mark.parametrize("order", [
    lambda rs: rs[:3] + rs[-1:] + rs[3:],  # an end record between the accounts
    lambda rs: rs + rs[-1:],  # two end records
    lambda rs: rs[:-1],  # no end record
    lambda rs: rs[:2] + rs[3:],  # the first account has no trailer
])
def test_the_end_record_is_single_and_last_and_every_account_has_a_trailer(order):
    with pytest.raises(ZenginFormatError, match="records are not"):
        parse_statements(b"".join(order(records(two_accounts()))), today=TODAY)


def test_crlf_after_each_record_and_a_trailing_eof_are_accepted():
    plain = two_accounts()
    with_breaks = b"".join(r + b"\r\n" for r in records(plain))

    expected = parse_statements(plain, today=TODAY)
    assert parse_statements(with_breaks, today=TODAY) == expected
    assert parse_statements(with_breaks + b"\x1a", today=TODAY) == expected
    assert parse_statements(plain + b"\x1a", today=TODAY) == expected


@pytest.mark.parametrize("separator", [b"\n", b"\r"])
def test_a_bare_line_feed_or_carriage_return_is_refused(separator):
    content = b"".join(r + separator for r in records(one_account()))

    with pytest.raises(ZenginFormatError, match=r"^byte 201 \(record 2, position 1\): 0x0[AD] is a line break"):
        parse_statement(content, today=TODAY)


def test_a_byte_outside_the_zengin_characters_is_refused_with_its_position():
    content = one_account(Account(), deposit(1, 3300))
    payer = 200 + 81  # the data record's 振込依頼人名 starts at its position 82

    with pytest.raises(ZenginFormatError, match=r"^byte 282 \(record 2, position 82\): 0x82 is not a Zengin"):
        parse_statement(content[:payer] + b"\x82\xa0" + content[payer + 2:], today=TODAY)
    with pytest.raises(ZenginFormatError, match=r"byte 283 \(record 2, position 83\): 0x61"):  # lower case
        parse_statement(content[:payer + 1] + b"a" + content[payer + 2:], today=TODAY)
    with pytest.raises(ZenginFormatError, match=r"0x21 is not a Zengin"):  # '!'
        parse_statement(content[:payer] + b"!" + content[payer + 1:], today=TODAY)


def test_kana_digits_letters_and_the_listed_symbols_real_statements_carry_are_read():
    name = "ｶ)ﾃｽﾄ-ｰ ｧｯ｡､･ ｢A1｣ '(+,./:?\\ﾞﾟ"
    content = one_account(Account(), deposit(1, 3300, payer="ﾃｽﾄ"))
    payer = 200 + 81
    raw = name.encode("cp932")

    parsed = parse_statement(content[:payer] + raw + content[payer + len(raw):], today=TODAY)

    assert parsed["data"][0]["payer_name"] == name


def test_a_statement_whose_trailer_disagrees_with_its_records_is_refused():
    content = one_account(Account(), deposit(1, 3300))
    trailer = len(content) - 400

    with pytest.raises(ZenginFormatError, match="deposit count"):
        parse_statement(content[:trailer + 1] + b"000002" + content[trailer + 7:], today=TODAY)
    with pytest.raises(ZenginFormatError, match="200-byte"):
        parse_statement(content[:-1], today=TODAY)


@pytest.mark.parametrize(("yymmdd", "today", "expected"), [
    (310430, TODAY, date(2019, 4, 30)),  # H31.04.30, the last day of 平成 (not 2049)
    (10501, TODAY, date(2019, 5, 1)),  # R01.05.01, the first day of 令和
    (80401, TODAY, date(2026, 4, 1)),  # R08.04.01
    (81203, TODAY, date(2026, 12, 3)),  # R08.12.03: today is not the future
    (81204, TODAY, date(1996, 12, 4)),  # tomorrow as 令和 is the future, so H08.12.04
    (11231, TODAY, date(2019, 12, 31)),  # R01.12.31
])
def test_a_wareki_date_is_reiwa_unless_that_is_in_the_future_then_heisei(yymmdd, today, expected):
    assert wareki_date(yymmdd, today=today) == expected


@pytest.mark.parametrize("yymmdd", [
    310501,  # H31.05.01 did not exist (令和 from 05-01), and R31 is the future
    100,  # YY 00 is neither era
    80230,  # February 30
    81300,  # month 13
])
def test_an_impossible_wareki_date_is_refused(yymmdd):
    with pytest.raises(ZenginFormatError, match=f"{yymmdd:06d} is neither"):
        wareki_date(yymmdd, today=TODAY)


def test_a_statement_from_the_last_heisei_day_reads_its_period_by_era():
    content = one_account(day=date(2019, 4, 30))

    parsed = parse_statement(content, today=TODAY)

    assert parsed["header"]["from"] == 310430 and parsed["period"] == (date(2019, 4, 30), date(2019, 4, 30))
