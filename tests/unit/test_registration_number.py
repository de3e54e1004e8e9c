"""登録番号 (適格請求書発行事業者): shape, normalisation and the 法人番号 check digit."""

from __future__ import annotations

import pytest

from services.platform.registration_number import check_digit, validate_registration_number

KNOWN_GOOD = ["4011001098993", "7010705000725", "2120901007402"]


@pytest.mark.parametrize("number", KNOWN_GOOD)
def test_known_numbers_are_valid(number):
    assert check_digit(number[1:]) == int(number[0])
    assert validate_registration_number("T" + number) == "T" + number


@pytest.mark.parametrize("raw", [
    "t4011001098993",
    "Ｔ４０１１００１０９８９９３",
    "ｔ４０１１００１０９８９９３",
    " T 4011-0010-98993 ",
    "T4011\u2212001098993",
    "T　4011001098993",
])
def test_normalises_case_width_spaces_and_hyphens(raw):
    assert validate_registration_number(raw) == "T4011001098993"


@pytest.mark.parametrize("number", ["T5011001098993", "T3011001098993", "T4011001098994", "T7010705000726"])
def test_wrong_check_digit_is_refused(number):
    with pytest.raises(ValueError, match="検査用数字"):
        validate_registration_number(number)


@pytest.mark.parametrize("raw", [
    "", "4011001098993", "T401100109899", "T40110010989930", "TT4011001098993", "T4011001O98993", "X4011001098993",
])
def test_wrong_shape_is_refused(raw):
    with pytest.raises(ValueError, match="13桁"):
        validate_registration_number(raw)
