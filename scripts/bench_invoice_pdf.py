"""Benchmark of the 適格請求書 PDF (services.billing.invoice_pdf.render).

Renders the same invoices twice in one run: once as PDFs, and once as plain text with no PDF (the lines the
PDF prints: heading, items, tax per rate, totals) as the baseline. Prints documents per second for both
and the ratio. No database is used.

Usage: python scripts/bench_invoice_pdf.py [--invoices 200] [--items 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.billing.invoice_pdf import PdfDocument, PdfItem, render, tax_by_rate, totals  # noqa: E402


def build_documents(count: int, items: int) -> list[PdfDocument]:
    """`count` invoices of `items` lines each (one in four lines at the reduced 8% rate, one discount)."""
    docs = []
    for n in range(1, count + 1):
        lines = [PdfItem(f"回線 090-{n:04d}-{i:04d} ベーシックプラン 月額基本料", 1, 1000 + 10 * i, 1000 + 10 * i,
                         8 if i % 4 == 3 else 10, service_period="2026年5月1日〜2026年5月31日")
                 for i in range(items - 1)]
        lines.append(PdfItem("長期契約割引", 1, -500, -500, 10))
        docs.append(PdfDocument(
            kind="invoice", number=f"INV-202605-{n:06d}", issue_date=date(2026, 6, 1), due_date=date(2026, 7, 31),
            period_start=date(2026, 5, 1), period_end=date(2026, 5, 31), issuer_name="株式会社サンプル通信",
            issuer_registration_number="T4011001098993", issuer_address="東京都千代田区千代田1-1-1",
            recipient_name=f"お客様 {n}", recipient_code=f"C-{n:06d}", items=lines,
            notes=["お問い合わせは 0120-000-000 まで。"],
            payment_info="お振込先: サンプル銀行 本店営業部 普通 1234567"))
    return docs


def as_text(doc: PdfDocument) -> str:
    """The document's printed lines as plain text (the baseline: the same content with no PDF)."""
    out = ["請求書（適格請求書）", f"{doc.recipient_name} 様 {doc.recipient_code}", doc.issuer_name,
           doc.issuer_address, f"登録番号 {doc.issuer_registration_number}", doc.number,
           f"ご利用期間 {doc.period_start}〜{doc.period_end}"]
    out += [f"{i.description} {i.service_period} {i.quantity} {i.unit_price:,}円 {i.amount:,}円 {i.tax_rate_percent}%"
            for i in doc.items]
    out += [f"{rate}%対象 {taxable:,}円 消費税 {tax:,}円" for rate, taxable, tax in tax_by_rate(doc.items)]
    subtotal, tax, total = totals(doc.items)
    out += [f"小計 {subtotal:,}円", f"消費税合計 {tax:,}円", f"ご請求金額（税込） {total:,}円"]
    out += [*doc.notes, doc.payment_info]
    return "\n".join(out)


def main() -> int:
    """Time the text baseline and the PDFs for the same documents and print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--items", type=int, default=12)
    args = parser.parse_args()
    docs = build_documents(args.invoices, args.items)

    start = time.perf_counter()
    text_bytes = sum(len(as_text(doc).encode()) for doc in docs)
    text_seconds = time.perf_counter() - start

    start = time.perf_counter()
    pdf_bytes = sum(len(render(doc)) for doc in docs)
    pdf_seconds = time.perf_counter() - start

    text_rate, pdf_rate = len(docs) / text_seconds, len(docs) / pdf_seconds
    print(f"{len(docs)} invoices x {args.items} items")
    print(f"baseline (text, no PDF): {text_rate:12,.1f} documents/s  ({text_seconds:.3f} s, {text_bytes:,} bytes)")
    print(f"PDF (IPAexGothic embedded): {pdf_rate:9,.1f} PDFs/s       ({pdf_seconds:.3f} s, {pdf_bytes:,} bytes, "
          f"{pdf_bytes // len(docs):,} bytes each)")
    print(f"ratio: the PDF takes {text_rate / pdf_rate:,.0f}x the time of the text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
