"""適格請求書発行事業者の登録番号: "T" + a 13-digit number whose first digit is the 法人番号 check digit."""

from __future__ import annotations

import re
import unicodedata

_SHAPE = re.compile(r"T([0-9]{13})")
_IGNORED = re.compile(r"[\s\-\u2010-\u2015\u2212]")  # spaces, hyphens, dashes, minus


def check_digit(base: str) -> int:
    """The check digit of a 12-digit 基礎番号 (法人番号の指定等に関する省令 第2条).

    9 − (Σ Pn×Qn mod 9), Pn the n-th digit counting from the rightmost, Qn 1 for odd n and 2 for even n.
    """
    total = sum(int(digit) * (2 if n % 2 == 0 else 1) for n, digit in enumerate(reversed(base), start=1))
    return 9 - total % 9


def validate_registration_number(value: str) -> str:
    """The normalised 登録番号 ("T" + 13 digits) of `value`, or ValueError with a Japanese message.

    Full-width characters and a lower-case t are accepted; spaces and hyphens are ignored.
    """
    text = _IGNORED.sub("", unicodedata.normalize("NFKC", value or "")).upper()
    match = _SHAPE.fullmatch(text)
    if match is None:
        raise ValueError("登録番号は「T」と13桁の数字で入力してください（例: T1234567890123）。")
    digits = match.group(1)
    if int(digits[0]) != check_digit(digits[1:]):
        raise ValueError("登録番号の検査用数字（先頭の数字）が正しくありません。番号をご確認ください。")
    return "T" + digits
