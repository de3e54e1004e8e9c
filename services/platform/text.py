"""Normalising Japanese text for matching: width, case, hiragana/katakana, spaces."""

from __future__ import annotations

import unicodedata

_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}


def normalize_name(text: str) -> str:
    """Fold a name or kana for matching: NFKC, lower case, katakana, no spaces or dots."""
    folded = unicodedata.normalize("NFKC", text or "").lower().translate(_HIRAGANA_TO_KATAKANA)
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "・.,、。")


def bigrams(text: str) -> set[str]:
    """The set of 2-character substrings of the normalised text (one char gives itself)."""
    norm = normalize_name(text)
    if len(norm) < 2:
        return {norm} if norm else set()
    return {norm[i : i + 2] for i in range(len(norm) - 1)}
