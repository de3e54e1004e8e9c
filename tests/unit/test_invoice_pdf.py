"""The 適格請求書 / 適格返還請求書 PDF: every required item on the page, tax once per rate, the embedded
font, identical bytes for the same document, and many items over several pages.

Every figure below is written by hand from the items, never computed by the code under test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from services.billing import invoice_pdf
from services.billing.invoice_pdf import PdfDocument, PdfItem, render, tax_by_rate, totals

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "新聞定期購読（週2回以上発行）"


def _items() -> list[PdfItem]:
    return [
        PdfItem("ベーシックプラン 月額基本料", 1, 3300, 3300, 10, service_period="2026年5月1日〜2026年5月31日"),
        PdfItem("国内通話料", 1, 1100, 1100, 10),
        PdfItem("長期契約割引", 1, -500, -500, 10, note="12か月目以降"),
        PdfItem(SUBSCRIPTION, 1, 1080, 1080, 8),
    ]


def _doc(**changes) -> PdfDocument:
    doc = PdfDocument(
        kind="invoice", number="INV-202605-000123", issue_date=date(2026, 6, 1), due_date=date(2026, 7, 31),
        period_start=date(2026, 5, 1), period_end=date(2026, 5, 31),
        issuer_name="株式会社サンプル通信", issuer_registration_number="T4011001098993",
        issuer_address="東京都千代田区千代田1-1-1", recipient_name="株式会社テスト商事", recipient_code="C-000123",
        items=_items(), notes=["お問い合わせは 0120-000-000 まで。"],
        payment_info="お振込先: サンプル銀行 本店営業部 普通 1234567",
    )
    return dataclasses.replace(doc, **changes)


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _flat(text: str) -> str:
    """The text without whitespace: the layout's spacing is not what is asserted."""
    return re.sub(r"\s+", "", text)


def test_tax_is_rounded_once_per_rate_not_per_line():
    lines = [PdfItem("SMS送信料", 1, 105, 105, 10) for _ in range(3)]
    # per line 10 + 10 + 10 = 30 would be wrong; 315 x 10% = 31.5 -> 31
    assert tax_by_rate(lines) == [(10, 315, 31)]


def test_tax_by_rate_lists_the_rates_present_highest_first():
    assert tax_by_rate(_items()) == [(10, 3900, 390), (8, 1080, 86)]
    assert tax_by_rate(_items()[:3]) == [(10, 3900, 390)]
    assert tax_by_rate([PdfItem("割引", 1, -105, -105, 10)]) == [(10, -105, -10)]


def test_totals_of_the_items():
    assert totals(_items()) == (4980, 476, 5456)


def test_invoice_shows_every_qualified_invoice_item():
    (page,) = _pages(render(_doc()))
    text = _flat(page)
    for expected in [
        "請求書（適格請求書）",
        "株式会社テスト商事様", "お客様番号C-000123",
        "株式会社サンプル通信", "東京都千代田区千代田1-1-1", "登録番号T4011001098993",
        "請求書番号INV-202605-000123", "発行日2026年6月1日", "お支払期限2026年7月31日",
        "ご利用期間2026年5月1日〜2026年5月31日",
        "ベーシックプラン月額基本料", "国内通話料", "長期契約割引", "12か月目以降", _flat(SUBSCRIPTION),
        "内容数量単価金額税率",
        "13,300円3,300円10%", "1-500円-500円10%",
        "10%対象3,900円消費税390円", "8%対象1,080円消費税86円",
        "小計4,980円", "消費税合計476円", "ご請求金額（税込）5,456円",
        "お問い合わせは0120-000-000まで。", "お振込先:サンプル銀行本店営業部普通1234567",
        "1/1",
    ]:
        assert expected in text, expected
    assert "返還" not in text


def test_reduced_rate_marker_only_on_the_8_percent_row_and_its_footnote():
    (page,) = _pages(render(_doc()))
    text = _flat(page)
    assert text.count("※") == 2
    assert "11,080円1,080円※8%" in text
    assert text.count("※は軽減税率（8%）対象") == 1
    assert "※10%" not in text


def test_no_reduced_rate_footnote_nor_8_percent_line_without_8_percent_items():
    (page,) = _pages(render(_doc(items=_items()[:3])))
    text = _flat(page)
    assert "※" not in text
    assert "8%対象" not in text
    assert "10%対象3,900円消費税390円" in text
    assert "ご請求金額（税込）4,290円" in text


def test_credit_note_names_the_invoice_returned_and_the_reason():
    credit = _doc(kind="credit_note", number="CN-202606-000001", due_date=None, corrects_number="INV-202605-000123",
                  reason="国内通話料の二重請求のため", items=[PdfItem("国内通話料", 1, 1100, 1100, 10)])
    (page,) = _pages(render(credit))
    text = _flat(page)
    for expected in [
        "適格返還請求書", "返還請求書番号CN-202606-000001", "登録番号T4011001098993",
        "返還等の対象となった請求書INV-202605-000123", "返還等の理由国内通話料の二重請求のため",
        "ご利用期間2026年5月1日〜2026年5月31日",
        "10%対象1,100円消費税110円", "返還額小計1,100円", "返還消費税額合計110円", "ご返還金額（税込）1,210円",
    ]:
        assert expected in text, expected
    assert "ご請求金額" not in text
    assert "お支払期限" not in text


def test_reissued_invoice_says_which_invoice_it_replaces():
    reissued = _doc(number="INV-202605-000124", corrects_number="INV-202605-000123", reason="宛名の訂正")
    text = _flat(_pages(render(reissued))[0])
    assert "請求書（適格請求書）" in text
    assert "本書は請求書INV-202605-000123に代わって発行するものです。" in text
    assert "再発行の理由宛名の訂正" in text


def test_the_japanese_font_is_embedded():
    pdf = render(_doc())
    assert b"/FontFile2" in pdf
    assert b"+IPAexGothic" in pdf  # a subset of IPAexGothic, so the PDF reads right without Japanese fonts


def test_the_same_document_renders_to_the_same_bytes():
    pdf = render(_doc())
    assert render(_doc()) == pdf
    assert PdfReader(io.BytesIO(pdf)).metadata["/CreationDate"] == "D:20260601000000+09'00'"


def test_the_bytes_do_not_depend_on_the_process():
    script = ("import hashlib; from tests.unit.test_invoice_pdf import _doc; "
              "from services.billing.invoice_pdf import render; print(hashlib.sha256(render(_doc())).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(render(_doc())).hexdigest()


def test_many_items_flow_onto_numbered_pages_with_the_header_repeated():
    items = [PdfItem(f"回線 {n:02d} 月額基本料", 1, 1000, 1000, 10) for n in range(1, 61)]
    pages = _pages(render(_doc(items=items)))
    assert len(pages) >= 2
    flat = [_flat(page) for page in pages]
    for number, text in enumerate(flat, start=1):
        assert f"{number}/{len(pages)}" in text
        assert "INV-202605-000123" in text
    assert all("内容数量単価金額税率" in text for text in flat if "月額基本料" in text)
    assert [sum(text.count(f"回線{n:02d}月額基本料") for text in flat) for n in range(1, 61)] == [1] * 60
    assert "10%対象60,000円消費税6,000円" in flat[-1]
    assert "ご請求金額（税込）66,000円" in flat[-1]


def test_a_long_description_wraps_inside_its_cell():
    long = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん" * 2
    (page,) = _pages(render(_doc(items=[PdfItem(long, 1, 1000, 1000, 10)])))
    assert long not in page.splitlines()
    assert long in _flat(page)


def test_missing_font_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(invoice_pdf, "FONT_PATH", tmp_path / "ipaexg.ttf")
    with pytest.raises(RuntimeError, match="fonts-ipaexfont-gothic"):
        render(_doc())


def test_an_invalid_registration_number_is_refused():
    with pytest.raises(ValueError, match="検査用数字"):
        render(_doc(issuer_registration_number="T5011001098993"))


def test_a_document_that_cannot_be_printed_is_refused():
    with pytest.raises(ValueError, match="kind"):
        _doc(kind="receipt")
    with pytest.raises(ValueError, match="corrects_number"):
        _doc(kind="credit_note")
    with pytest.raises(ValueError, match="item"):
        _doc(items=[])
