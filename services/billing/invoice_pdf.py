"""The 適格請求書 and the 適格返還請求書 as an A4 PDF with an embedded Japanese font.

The caller describes the document (PdfDocument, PdfItem) and gets the bytes; nothing here reads the
ledger. Amounts are tax-exclusive integer yen; consumption tax is rounded down once per rate
(消費税法施行令 第70条の10). The same document always renders to the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, XPos, YPos

from services.platform.clock import TOKYO
from services.platform.registration_number import validate_registration_number

FONT_PATH = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
FONT_PACKAGE = "fonts-ipaexfont-gothic"
FONT_FAMILY = "IPAexGothic"
KINDS = ("invoice", "credit_note")
REDUCED_RATE_PERCENT = 8
REDUCED_RATE_MARK = "※"
REDUCED_RATE_FOOTNOTE = "※は軽減税率（8%）対象"

_TITLES = {"invoice": "請求書（適格請求書）", "credit_note": "適格返還請求書"}
_MARGIN = 15.0
_GREY = (235, 235, 235)
_ITEM_COLUMNS = ("内容", "数量", "単価", "金額", "税率")
_ITEM_WIDTHS = (92, 14, 26, 28, 20)


@dataclass(frozen=True)
class PdfItem:
    """One line of the document: tax-exclusive yen; a negative amount is a discount."""

    description: str
    quantity: int
    unit_price: int
    amount: int
    tax_rate_percent: int
    service_period: str = ""
    note: str = ""


@dataclass(frozen=True)
class PdfDocument:
    """Everything printed on an invoice ("invoice") or a credit note ("credit_note").

    For a credit note the items carry the amounts returned (positive yen) and `corrects_number` names the
    invoice returned against; for a reissued invoice `corrects_number` names the invoice it replaces.
    """

    kind: str
    number: str
    issue_date: date
    due_date: date | None
    period_start: date
    period_end: date
    issuer_name: str
    issuer_registration_number: str
    issuer_address: str
    recipient_name: str
    recipient_code: str
    items: Sequence[PdfItem]
    notes: Sequence[str] = ()
    corrects_number: str = ""
    reason: str = ""
    payment_info: str = ""

    def __post_init__(self) -> None:
        """Refuse a document that cannot be printed as a qualified invoice or credit note."""
        if self.kind not in KINDS:
            raise ValueError(f"unknown document kind {self.kind!r}; expected one of {KINDS}")
        if not self.items:
            raise ValueError("a document needs at least one item")
        if self.kind == "credit_note" and not self.corrects_number:
            raise ValueError("a credit note names the invoice it returns against (corrects_number)")


def tax_by_rate(items: Iterable[PdfItem]) -> list[tuple[int, int, int]]:
    """(rate, taxable total, tax) per rate present, highest rate first; tax rounded down once per rate.

    A negative total (discounts only) rounds toward zero, as the ledger's consumption tax does.
    """
    by_rate: dict[int, int] = {}
    for item in items:
        by_rate[item.tax_rate_percent] = by_rate.get(item.tax_rate_percent, 0) + item.amount
    out = []
    for rate in sorted(by_rate, reverse=True):
        taxable = by_rate[rate]
        tax = abs(taxable) * rate // 100
        out.append((rate, taxable, tax if taxable >= 0 else -tax))
    return out


def totals(items: Iterable[PdfItem]) -> tuple[int, int, int]:
    """(subtotal, consumption tax, total including tax) of the items."""
    rates = tax_by_rate(items)
    subtotal = sum(taxable for _, taxable, _ in rates)
    tax = sum(tax for _, _, tax in rates)
    return subtotal, tax, subtotal + tax


def _yen(amount: int) -> str:
    """An amount as printed on the document: 12,345円 (-500円 for a discount)."""
    return f"{amount:,}円"


def _japanese_date(day: date) -> str:
    """2026年5月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


class _DocumentPdf(FPDF):
    """An A4 page set with the document's continuation header and page numbers."""

    def __init__(self, doc: PdfDocument) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc = doc
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(True, margin=18)
        self.add_font(FONT_FAMILY, fname=str(FONT_PATH))
        self.set_font(FONT_FAMILY, size=9)

    def header(self) -> None:
        """From the second page on: the title and number, so a loose page is still identified."""
        if self.page_no() > 1:
            self.set_font(FONT_FAMILY, size=8)
            self.cell(0, 5, f"{_TITLES[self.doc.kind]} {self.doc.number}（続き）",
                      new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(3)
            self.set_font(FONT_FAMILY, size=9)

    def footer(self) -> None:
        """Page n / total at the bottom of every page."""
        self.set_y(-12)
        self.set_font(FONT_FAMILY, size=8)
        self.cell(0, 5, f"{self.page_no()} / {self.str_alias_nb_pages}", align=Align.C)


def render(doc: PdfDocument) -> bytes:
    """The document as A4 PDF bytes (IPAexGothic embedded), identical for the same document.

    Raises RuntimeError when the font is not installed and ValueError for an invalid 登録番号.
    """
    if not FONT_PATH.is_file():
        raise RuntimeError(f"Japanese font {FONT_PATH} is missing: install the Debian package {FONT_PACKAGE} "
                           "(make system-deps)")
    registration = validate_registration_number(doc.issuer_registration_number)
    pdf = _DocumentPdf(doc)
    title = _TITLES[doc.kind]
    pdf.set_creation_date(datetime.combine(doc.issue_date, time.min, tzinfo=TOKYO))
    pdf.set_title(f"{title} {doc.number}")
    pdf.set_author(doc.issuer_name)
    pdf.set_lang("ja-JP")
    pdf.add_page()
    _draw_heading(pdf, doc, title, registration)
    _draw_items(pdf, doc)
    _draw_summary(pdf, doc)
    _draw_notes(pdf, doc)
    return bytes(pdf.output())


def _draw_heading(pdf: FPDF, doc: PdfDocument, title: str, registration: str) -> None:
    pdf.set_font(FONT_FAMILY, size=18)
    pdf.cell(0, 10, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    top = pdf.get_y()
    left_width, right_x = 105.0, 125.0
    right_width = pdf.w - _MARGIN - right_x

    pdf.set_font(FONT_FAMILY, size=14)
    pdf.multi_cell(left_width, 8, f"{doc.recipient_name} 様", align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.line(_MARGIN, pdf.get_y(), _MARGIN + left_width, pdf.get_y())
    pdf.ln(1)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.cell(left_width, 5, f"お客様番号 {doc.recipient_code}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    greeting = "下記のとおり返還いたします。" if doc.kind == "credit_note" else "下記のとおりご請求申し上げます。"
    pdf.cell(left_width, 5, greeting, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()

    pdf.set_xy(right_x, top)
    pdf.set_font(FONT_FAMILY, size=11)
    pdf.multi_cell(right_width, 6, doc.issuer_name, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.multi_cell(right_width, 4.5, doc.issuer_address, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.multi_cell(right_width, 4.5, f"登録番号 {registration}", align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_y(max(left_bottom, pdf.get_y()) + 5)
    number_label = "返還請求書番号" if doc.kind == "credit_note" else "請求書番号"
    rows = [(number_label, doc.number), ("発行日", _japanese_date(doc.issue_date))]
    if doc.kind == "invoice" and doc.due_date is not None:
        rows.append(("お支払期限", _japanese_date(doc.due_date)))
    rows.append(("ご利用期間", f"{_japanese_date(doc.period_start)}〜{_japanese_date(doc.period_end)}"))
    if doc.kind == "credit_note":
        rows.append(("返還等の対象となった請求書", doc.corrects_number))
        if doc.reason:
            rows.append(("返還等の理由", doc.reason))
    elif doc.corrects_number:
        rows.append(("差し替え前の請求書", doc.corrects_number))
        if doc.reason:
            rows.append(("再発行の理由", doc.reason))
    for label, value in rows:
        pdf.cell(50, 5.5, label)
        pdf.multi_cell(pdf.w - 2 * _MARGIN - 50, 5.5, value, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.kind == "invoice" and doc.corrects_number:
        pdf.multi_cell(0, 5.5, f"本書は請求書 {doc.corrects_number} に代わって発行するものです。", align=Align.L,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.ln(3)
    total = totals(doc.items)[2]
    pdf.set_fill_color(*_GREY)
    pdf.set_font(FONT_FAMILY, size=11)
    pdf.cell(45, 11, _total_label(doc), border=1, fill=True, align=Align.C)
    pdf.set_fill_color(255)  # the tables take the current fill colour for every cell
    pdf.set_font(FONT_FAMILY, size=16)
    pdf.cell(60, 11, _yen(total), border=1, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)


def _total_label(doc: PdfDocument) -> str:
    return "ご返還金額（税込）" if doc.kind == "credit_note" else "ご請求金額（税込）"


def _draw_items(pdf: FPDF, doc: PdfDocument) -> None:
    pdf.set_font(FONT_FAMILY, size=9)
    heading = FontFace(emphasis="", fill_color=_GREY)
    with pdf.table(col_widths=_ITEM_WIDTHS, width=sum(_ITEM_WIDTHS), line_height=5, padding=(1, 1.5),
                   headings_style=heading, text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "CENTER"),
                   repeat_headings=1) as table:
        head = table.row()
        for name in _ITEM_COLUMNS:
            head.cell(name, align=Align.C)
        for item in doc.items:
            lines = [item.description, *(text for text in (item.service_period, item.note) if text)]
            rate = f"{item.tax_rate_percent}%"
            if item.tax_rate_percent == REDUCED_RATE_PERCENT:
                rate = f"{REDUCED_RATE_MARK}{rate}"
            table.row(("\n".join(lines), f"{item.quantity:,}", _yen(item.unit_price), _yen(item.amount), rate))
    if any(item.tax_rate_percent == REDUCED_RATE_PERCENT for item in doc.items):
        pdf.set_font(FONT_FAMILY, size=8)
        pdf.cell(0, 5, REDUCED_RATE_FOOTNOTE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _draw_summary(pdf: FPDF, doc: PdfDocument) -> None:
    rates = tax_by_rate(doc.items)
    subtotal, tax, total = totals(doc.items)
    row_height = 6.0
    if pdf.will_page_break(row_height * (len(rates) + 4)):
        pdf.add_page()
    returned = doc.kind == "credit_note"
    pdf.set_font(FONT_FAMILY, size=8)
    caption = "返還等の税率ごとの合計（税抜）と消費税額" if returned else "税率ごとの合計（税抜）と消費税額"
    pdf.cell(0, 5, caption, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=9)
    widths = (26, 34, 20, 34)
    with pdf.table(col_widths=widths, width=sum(widths), align=Align.R, line_height=row_height,
                   padding=(0, 1.5), first_row_as_headings=False, borders_layout=TableBordersLayout.ALL,
                   text_align=("LEFT", "RIGHT", "LEFT", "RIGHT")) as table:
        for rate, taxable, rate_tax in rates:
            table.row((f"{rate}%対象", _yen(taxable), "消費税", _yen(rate_tax)))
        for label, amount in (("返還額小計" if returned else "小計", subtotal),
                              ("返還消費税額合計" if returned else "消費税合計", tax),
                              (_total_label(doc), total)):
            row = table.row()
            row.cell(label, colspan=3, align=Align.R)
            row.cell(_yen(amount), align=Align.R)
    pdf.ln(5)


def _draw_notes(pdf: FPDF, doc: PdfDocument) -> None:
    pdf.set_font(FONT_FAMILY, size=9)
    if doc.notes:
        pdf.cell(0, 5, "備考", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for note in doc.notes:
            pdf.multi_cell(0, 5, f"・{note}", align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    if doc.payment_info:
        pdf.multi_cell(0, 5, doc.payment_info, border=1, align=Align.L, padding=2, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
