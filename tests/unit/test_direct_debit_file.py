"""The 口座振替 (種別コード 91) request and result file: 120-byte records in the Zengin characters."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from services.integrations.direct_debit_file import (
    RESULT_CODES,
    DebitHeader,
    DebitItem,
    ZenginValueError,
    read_request,
    read_result,
    to_zengin_kana,
    write_request,
    write_result,
)
from services.integrations.zengin import ZenginFormatError

TODAY = date(2026, 12, 3)
HEADER = DebitHeader(consignor_code="1234567890", consignor_name="ｶ)ﾃﾞﾓﾂｳｼﾝ", withdrawal_date=date(2026, 12, 28),
                     bank_code="0001", bank_name="ﾐｽﾞﾎ", branch_code="001", branch_name="ﾎﾝﾃﾝ", account_type=1,
                     account_number="1234567")


def item(number: int, amount: int, *, code: int = 0, customer: str | None = None) -> DebitItem:
    return DebitItem(bank_code="0005", bank_name="ﾐﾂﾋﾞｼUFJ", branch_code="123", branch_name="ｼﾌﾞﾔ", account_type=1,
                     account_number=f"{7654320 + number:07d}", holder_name=f"ﾔﾏﾀﾞ ﾀﾛｳ{number}", amount=amount,
                     new_code=number % 3, customer_number=customer or f"{1000 + number}", result_code=code)


ITEMS = [item(1, 5500), item(2, 3300), item(3, 1_234_567_890)]


def records(content: bytes) -> list[bytes]:
    return [content[i:i + 120] for i in range(0, len(content), 120)]


def test_a_request_reads_back_as_written():
    content = write_request(HEADER, ITEMS)

    assert read_request(content, today=TODAY) == (HEADER, ITEMS)
    assert len(content) == 120 * 6 and b"\r" not in content and b"\n" not in content


def test_the_request_bytes_follow_the_zengin_layout():
    header, first, *_, trailer, end = records(write_request(HEADER, ITEMS))

    assert header[:14] == b"1910" + b"1234567890" and header[54:58] == b"1228"
    assert header[58:62] == b"0001" and header[77:80] == b"001" and header[95:103] == b"11234567"
    assert header[103:] == b" " * 17
    assert first[:5] == b"20005" and first[20:23] == b"123" and first[38:42] == b"    "
    assert first[42:50] == b"17654321" and first[50:80] == "ﾔﾏﾀﾞ ﾀﾛｳ1".ljust(30).encode("cp932")
    assert first[80:90] == b"0000005500" and first[90:91] == b"1"
    assert first[91:111] == b"1001".rjust(20, b"0") and first[111:112] == b"0" and first[112:] == b" " * 8
    assert trailer[:19] == b"8000003" + f"{5500 + 3300 + 1_234_567_890:012d}".encode()
    assert trailer[19:55] == b"0" * 36 and end == b"9" + b" " * 119


def test_a_result_with_every_result_code_reads_with_its_trailer_sums():
    items = [item(n, 1000 * (n + 1), code=code) for n, code in enumerate(RESULT_CODES)]

    result = read_result(write_result(HEADER, items), today=TODAY)

    assert [i.result_code for i in result.items] == [0, 1, 2, 3, 4, 8, 9]
    assert (result.total_count, result.total_amount) == (7, 28000)
    assert (result.transferred_count, result.transferred_amount) == (1, 1000)
    assert (result.failed_count, result.failed_amount) == (6, 27000)
    assert result.header == HEADER and list(result.items) == items


@pytest.mark.parametrize(("start", "value", "message"), [
    (1, b"000004", "合計"),  # 合計件数
    (19, b"000003", "振替済"),  # 振替済件数 (2 in the file)
    (49, b"999999", "振替不能"),  # 振替不能金額 (last digits)
])
def test_a_result_whose_trailer_disagrees_with_its_records_is_refused(start, value, message):
    content = write_result(HEADER, [item(1, 5500), item(2, 3300, code=1), item(3, 100)])
    at = 120 * 4 + start

    with pytest.raises(ZenginFormatError, match=message):
        read_result(content[:at] + value + content[at + len(value):], today=TODAY)


def test_a_byte_outside_the_zengin_characters_is_refused_with_its_position():
    content = write_request(HEADER, ITEMS)

    with pytest.raises(ZenginFormatError, match=r"^byte 245 \(record 3, position 5\): 0x82 is not a Zengin character$"):
        read_request(content[:244] + b"\x82" + content[245:], today=TODAY)
    with pytest.raises(ZenginFormatError, match=r"byte 171 \(record 2, position 51\): 0x61"):  # lower-case a
        read_request(content[:170] + b"a" + content[171:], today=TODAY)


def test_files_with_crlf_after_each_record_or_a_trailing_eof_read_like_files_without_line_breaks():
    plain = write_result(HEADER, [item(1, 5500, code=1)])
    with_breaks = write_result(HEADER, [item(1, 5500, code=1)], line_breaks=True)

    assert with_breaks == b"".join(r + b"\r\n" for r in records(plain))
    expected = read_result(plain, today=TODAY)
    assert read_result(with_breaks, today=TODAY) == expected
    assert read_result(with_breaks + b"\x1a", today=TODAY) == expected
    assert read_result(plain + b"\x1a", today=TODAY) == expected
    assert read_request(write_request(HEADER, ITEMS, line_breaks=True), today=TODAY) == (HEADER, ITEMS)


@pytest.mark.parametrize("separator", [b"\n", b"\r"])
def test_a_bare_line_feed_or_carriage_return_is_refused(separator):
    content = b"".join(r + separator for r in records(write_request(HEADER, ITEMS)))

    with pytest.raises(ZenginFormatError, match=r"byte 121 .*line break"):
        read_request(content, today=TODAY)


def test_crlf_after_some_records_only_is_refused():
    plain = records(write_request(HEADER, ITEMS))
    content = plain[0] + b"\r\n" + plain[1] + b"".join(plain[2:])

    with pytest.raises(ZenginFormatError, match="byte 243: record 2 is not followed by CR\\+LF"):
        read_request(content, today=TODAY)


@pytest.mark.parametrize("tamper", [
    lambda rs: rs + [rs[-1]],  # two end records
    lambda rs: rs[:-1],  # no end record
    lambda rs: rs[:-1] + [rs[1], rs[-1]],  # a data record after the trailer
    lambda rs: [rs[0]] + rs,  # two headers
])
def test_the_end_record_must_be_single_and_last_after_one_header_and_one_trailer(tamper):
    with pytest.raises(ZenginFormatError, match="records are not"):
        read_request(b"".join(tamper(records(write_request(HEADER, ITEMS)))), today=TODAY)


def test_an_unknown_result_code_is_refused():
    content = write_result(HEADER, [item(1, 5500)])

    with pytest.raises(ZenginFormatError, match=r"record 2\.result_code: 5 is not a 振替結果コード"):
        read_result(content[:120 + 111] + b"5" + content[120 + 112:], today=TODAY)


def test_a_request_must_carry_result_code_zero():
    with pytest.raises(ZenginValueError, match=r"items\[1\]\.result_code"):
        write_request(HEADER, [item(1, 5500), item(2, 3300, code=1)])
    with pytest.raises(ZenginFormatError, match="record 3: a request carries 振替結果コード 0"):
        read_request(write_result(HEADER, [item(1, 5500), item(2, 3300, code=1)]), today=TODAY)
    with pytest.raises(ZenginFormatError, match="振替済 and 振替不能"):
        read_request(write_result(HEADER, [item(1, 5500)]), today=TODAY)


@pytest.mark.parametrize(("change", "message"), [
    ({"holder_name": "山田太郎"}, r"items\[1\]\.holder_name: has '太' '山' '田' '郎' outside"),
    ({"holder_name": "ﾔﾏﾀﾞ" * 10}, r"items\[1\]\.holder_name: 40 characters, the field holds 30"),
    ({"holder_name": " "}, r"items\[1\]\.holder_name: is required"),
    ({"amount": 0}, r"items\[1\]\.amount: must be whole yen"),
    ({"amount": 10 ** 10}, r"items\[1\]\.amount"),
    ({"amount": True}, r"items\[1\]\.amount"),
    ({"account_number": "123456"}, r"items\[1\]\.account_number: must be 7 digits"),
    ({"bank_code": "00５1"}, r"items\[1\]\.bank_code"),
    ({"account_type": 4}, r"items\[1\]\.account_type"),
    ({"new_code": 3}, r"items\[1\]\.new_code"),
    ({"customer_number": "1" * 21}, r"items\[1\]\.customer_number: must be up to 20 digits"),
    ({"customer_number": "A12"}, r"items\[1\]\.customer_number"),
])
def test_a_field_the_file_cannot_carry_is_refused_naming_the_item_and_field(change, message):
    with pytest.raises(ZenginValueError, match=message):
        write_request(HEADER, [item(0, 100), dataclasses.replace(item(1, 100), **change)])


@pytest.mark.parametrize(("change", "message"), [
    ({"consignor_code": "123"}, r"header\.consignor_code"),
    ({"consignor_name": "デモ通信"}, r"header\.consignor_name"),
    ({"account_type": 3}, r"header\.account_type"),
])
def test_a_header_field_the_file_cannot_carry_is_refused(change, message):
    with pytest.raises(ZenginValueError, match=message):
        write_request(dataclasses.replace(HEADER, **change), ITEMS)


def test_a_file_needs_at_least_one_item():
    with pytest.raises(ZenginValueError, match="at least one item"):
        write_request(HEADER, [])


def test_the_customer_number_is_zero_filled_and_read_back_as_a_number():
    content = write_request(HEADER, [item(1, 100, customer="00042")])

    assert records(content)[1][91:111] == b"0" * 18 + b"42"
    assert read_request(content, today=TODAY)[1][0].customer_number == "42"


def test_the_withdrawal_date_takes_the_year_nearest_today():
    content = write_request(dataclasses.replace(HEADER, withdrawal_date=date(2027, 1, 5)), ITEMS)

    assert read_request(content, today=date(2026, 12, 20))[0].withdrawal_date == date(2027, 1, 5)
    assert read_request(content, today=date(2027, 1, 20))[0].withdrawal_date == date(2027, 1, 5)
    with pytest.raises(ZenginFormatError, match="引落日 1332"):
        read_request(content[:54] + b"1332" + content[58:], today=TODAY)


@pytest.mark.parametrize(("name", "expected"), [
    ("やまだ　たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),
    ("カブシキガイシャ　サンプル", "ｶﾌﾞｼｷｶﾞｲｼﾔ ｻﾝﾌﾟﾙ"),
    ("キャッシュ・ヴィーナス", "ｷﾔﾂｼﾕ.ｳﾞｲ-ﾅｽ"),
    ("ｷｬｯﾁｰ", "ｷﾔﾂﾁ-"),
    ("（カ）ａｂｃ Ltd.", "(ｶ)ABC LTD."),
    ("ぱぴぷぺぽ", "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"),
])
def test_names_become_zengin_half_width_kana(name, expected):
    assert to_zengin_kana(name) == expected


@pytest.mark.parametrize("name", ["山田 太郎", "ｶ)ﾃﾞﾓ!", "Émile"])
def test_a_name_without_a_zengin_form_is_refused(name):
    with pytest.raises(ZenginValueError, match="without a Zengin form"):
        to_zengin_kana(name)
