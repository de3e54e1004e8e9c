"""The customer app (/my) is Japanese by default with English available: no fixed Japanese text is left in its
page code outside the label catalogue (components.i18n), and every label it looks up has its English."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from components.i18n import LABELS_EN, TEXTS

ROOT = Path(__file__).resolve().parents[2]
# every module of the customer app, and the company's users section shown on /my/users
MODULES = sorted(
    [p for d in ("telecom_app/pages/my", "components/my") for p in (ROOT / d).glob("*.py")]
    + [ROOT / "components/company_users.py"]
)
# kana and kanji (not the punctuation ・（）、 that also separates values in the English UI)
JAPANESE = re.compile(r"[\u3005\u3041-\u3096\u30a1-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff]")
# calls that show a Japanese literal through tr(): the position and keyword of that argument
TRANSLATED = {"tr": (0, "ja"), "field": (1, "label"), "section": (0, "title"), "kv": (0, "label"),
              "send_button": (0, "label")}
# Japanese literals that must stay as they are, with why
ALLOWED = {
    # rx.match keys compared with the state name the server sends for a plan or option (適用中 / 予定 / 終了)
    ("telecom_app/pages/my/contract.py", "適用中"),
    ("telecom_app/pages/my/contract.py", "予定"),
    # the example in the 口座名義 input: the bank needs the holder's name in katakana, whatever the UI language
    ("components/my/payment.py", "ヤマダ タロウ"),
}


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _translated_literals(tree: ast.AST) -> set[int]:
    """The ids of the str constants that reach the page through tr()."""
    found = set()
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in TRANSLATED:
            position, keyword = TRANSLATED[call.func.id]
            args = call.args[position:position + 1] + [k.value for k in call.keywords if k.arg == keyword]
            found |= {id(a) for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def _japanese_literals(source: str, module: str) -> list[tuple[int, str]]:
    """The Japanese str constants of `source` (the module `module`) shown as they are."""
    tree = ast.parse(source)
    skip = _translated_literals(tree) | _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and JAPANESE.search(node.value)
            and id(node) not in skip and (module, node.value) not in ALLOWED]


def _looked_up(path: Path) -> tuple[list[str], list[str]]:
    """The literals given to tr() (directly or through a helper), and the keys given to t()."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    translated = _translated_literals(tree)
    labels = [node.value for node in ast.walk(tree) if id(node) in translated and JAPANESE.search(node.value)]
    keys = [call.args[0].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "t"
            and call.args and isinstance(call.args[0], ast.Constant)]
    return labels, keys


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_no_japanese_literal_outside_the_catalogue(path):
    found = _japanese_literals(path.read_text(encoding="utf-8"), _relative(path))
    assert found == [], "wrap these in tr() (with an English entry) or use t(key)"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_every_label_looked_up_has_its_english(path):
    labels, keys = _looked_up(path)
    assert [ja for ja in labels if ja not in LABELS_EN] == []
    assert [key for key in keys if key not in TEXTS] == []


def test_the_check_sees_the_modules_and_flags_a_bare_literal():
    names = {_relative(p) for p in MODULES}
    assert {"telecom_app/pages/my/contract.py", "components/my/shell.py", "components/company_users.py",
            "telecom_app/pages/my/payment.py", "components/my/payment.py"} <= names
    source = '"""説明."""\nrx.text(tr("外す"), "外す", field("name", "氏名", e), "・", rx.match(s, ("予定", "x")))\n'
    assert _japanese_literals(source, "components/my/sample.py") == [(2, "外す"), (2, "予定")]
    assert _japanese_literals(source, "telecom_app/pages/my/contract.py") == [(2, "外す")]


def test_english_entries_are_english():
    for ja, en in LABELS_EN.items():
        assert en.strip() and not JAPANESE.search(en), ja
    for key, (ja, en) in TEXTS.items():
        assert ja and en.strip() and not JAPANESE.search(en), key
