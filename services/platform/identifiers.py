"""Phone numbers, ICCID, IMSI and IMEI: parsing, checksums and display formats."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from stdnum import imei as stdnum_imei
from stdnum import luhn

_DIGITS = re.compile(r"\D")
_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
# 020 numbers (M2M / IoT) are valid Japanese mobile-network numbers the library types as pager.
_LINE_TYPES = _MOBILE_TYPES | {phonenumbers.PhoneNumberType.PAGER}


def digits_only(text: str) -> str:
    """Strip everything but digits (full-width digits are folded first)."""
    return _DIGITS.sub("", unicodedata.normalize("NFKC", text or ""))


def parse_msisdn(text: str) -> str | None:
    """Return the E.164 form (+819012345678) of a Japanese mobile/IoT number, or None.

    Accepts 090-1234-5678, 09012345678, +81 90 1234 5678, 81-90-1234-5678 and full-width digits.
    """
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if not raw or not re.fullmatch(r"[\d\s\-+()]+", raw):
        return None
    digits = digits_only(raw)
    if raw.startswith("+") or (digits.startswith("81") and len(digits) == 12):
        candidate = "+" + digits
    else:
        candidate = digits
    try:
        number = phonenumbers.parse(candidate, "JP")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 81 or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _LINE_TYPES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_msisdn(e164: str) -> str:
    """Show an E.164 number the Japanese way: 090-1234-5678."""
    try:
        number = phonenumbers.parse(e164, "JP")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def is_valid_iccid(text: str) -> bool:
    """ICCID: 19 or 20 digits, starting 89 (telecom), with a valid Luhn check digit."""
    return bool(re.fullmatch(r"89\d{17,18}", text or "")) and luhn.is_valid(text)


def is_valid_imsi(text: str) -> bool:
    """IMSI: 15 digits with a Japanese MCC (440 or 441)."""
    return bool(re.fullmatch(r"44[01]\d{12}", text or ""))


def is_valid_imei(text: str) -> bool:
    """IMEI: 15 digits with a valid Luhn check digit."""
    return bool(re.fullmatch(r"\d{15}", text or "")) and stdnum_imei.is_valid(text)


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit to `prefix` (for generating stock numbers)."""
    return prefix + luhn.calc_check_digit(prefix)


def customer_code(customer_id: int) -> str:
    """The customer number shown to people: K-000123."""
    return f"K-{customer_id:06d}"


def contract_code(contract_id: int) -> str:
    """The contract number shown to people: C-000123."""
    return f"C-{contract_id:06d}"
